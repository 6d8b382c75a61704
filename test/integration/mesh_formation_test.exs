# clusterd forms a full mesh of nodes that are not connected at all, and stays
# a hidden peer: in every member's nodes(hidden), never in nodes().
defmodule Clusterd.MeshFormationTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "six nodes started with connect_all false (nothing meshes by itself) form a full mesh",
       ctx do
    forms_full_mesh(ctx, connect_all: false)
  end

  test "six nodes started with kernel defaults form a full mesh", ctx do
    forms_full_mesh(ctx, [])
  end

  defp forms_full_mesh(ctx, node_opts) do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5 n6), node_opts)

    for m <- members,
        do: assert(H.nodes_of(m) == {:ok, []}, "#{m} is connected before clusterd runs")

    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    for m <- members do
      {:ok, visible} = H.nodes_of(m)
      {:ok, hidden} = H.nodes_of(m, :hidden)
      assert Enum.sort(visible) == Enum.sort(members -- [m])
      refute h.node in visible, "clusterd is a visible peer of #{m}"
      assert h.node in hidden
    end

    assert H.running?(h), "clusterd exited:\n" <> H.clusterd_logs_tail(ctx)
  end
end

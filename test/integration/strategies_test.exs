# The local discovery strategies, each against real nodes: LocalEpmd,
# ErlangHosts (OTP .hosts.erlang file) and Epmd with Elixir members.
defmodule Clusterd.StrategiesTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "Cluster.Strategy.LocalEpmd meshes every node in this host's epmd, including one that comes later",
       ctx do
    topo = [{"local", "Cluster.Strategy.LocalEpmd", [polling_interval: 1000]}]
    assert_meshes_with_late_joiner(ctx, topo)
  end

  test "Cluster.Strategy.ErlangHosts with a hosts file '127.0.0.1'. meshes the nodes there",
       ctx do
    hosts_file = Path.join(ctx.dir, "hosts.erlang")
    File.write!(hosts_file, "'127.0.0.1'.\n")

    topo = [
      {"hosts", "Cluster.Strategy.ErlangHosts", [hosts_file: hosts_file, polling_interval: 1000]}
    ]

    assert_meshes_with_late_joiner(ctx, topo)
  end

  # Three unconnected nodes are meshed from discovery; a fourth started later
  # is found at a later poll and meshed too.
  defp assert_meshes_with_late_joiner(ctx, topo) do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    h = H.start_clusterd(ctx, H.write_config(ctx, topologies: topo))
    H.wait_for_full_mesh(ctx, members)

    n4 = H.start_erl(ctx, "n4", connect_all: false)
    H.wait_for_full_mesh(ctx, [n4 | members])
    assert_only_members_visible(ctx, [n4 | members], h)
  end

  test "Cluster.Strategy.Epmd with Elixir nodes among the members", ctx do
    erl = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)

    ex = [
      H.start_elixir(ctx, "e1", connect_all: false, wait: false),
      H.start_elixir(ctx, "e2", connect_all: false, wait: false)
    ]

    Enum.each(ex, &H.wait_node_up/1)
    members = erl ++ ex

    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    # As the Elixir nodes themselves say it.
    for e <- ex do
      assert Enum.sort(:erpc.call(e, Node, :list, [], 2000)) == Enum.sort(members -- [e])
    end
  end

  defp assert_only_members_visible(ctx, members, h) do
    H.wait_for_hidden_peer(ctx, members, h.node)

    for m <- members do
      {:ok, visible} = H.nodes_of(m)
      assert Enum.sort(visible) == Enum.sort(members -- [m]), "#{m} sees #{inspect(visible)}"
    end
  end
end

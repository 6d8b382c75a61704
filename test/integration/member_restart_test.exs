# A member that dies and comes back under the same name is meshed again.
defmodule Clusterd.MemberRestartTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "SIGKILL one member, restart it with the same name: meshed again", ctx do
    # connect_all false: nobody but clusterd reconnects the new incarnation.
    [_, _, n3 | _] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5), connect_all: false)
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    H.kill_node(ctx, n3)
    others = members -- [n3]

    assert {:ok, _} = H.wait_until(15_000, fn -> Enum.all?(others, &H.not_peer?(&1, n3)) end)

    assert H.full_mesh?(others), "the others lost links when n3 died:\n" <> H.mesh_report(others)

    H.start_erl(ctx, "n3", connect_all: false)
    H.wait_for_full_mesh(ctx, members, 30_000)
    H.wait_for_hidden_peer(ctx, [n3], h.node, 30_000)
    assert H.running?(h), "clusterd exited:\n" <> H.clusterd_logs_tail(ctx)
  end
end

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

  test "a member that connects to clusterd while its link waits in backoff: the link takes that connection",
       ctx do
    # clusterd's dial to n2 fails at start (not up yet) and the next try is a
    # minute away. n2 then connects to clusterd itself: that connection must
    # become n2's link at once (forwarder, then the mesh), not sit unused
    # while every dial of ours is answered `alive`/`nok`.
    n1 = H.start_erl(ctx, "n1", connect_all: false)
    n2 = H.node_name("n2")

    yaml =
      H.config_yaml(ctx, hosts: [n1, n2])
      |> String.replace(
        "reconcile:\n",
        "reconcile:\n  backoff_min: 60000\n  backoff_max: 60000\n"
      )

    config = Path.join(ctx.dir, "clusterd.yaml")
    File.write!(config, yaml)
    h = H.start_clusterd(ctx, config)
    H.wait_for_log(ctx, h, ~r/cannot connect to member.*n2@/)

    H.start_erl(ctx, "n2", connect_all: false)
    assert H.eval_on(n2, "net_kernel:connect_node('#{h.node}').") == true

    H.wait_for_log(ctx, h, ~r/link up.*n2@.*the member's connection/, 15_000)
    H.wait_for_full_mesh(ctx, [n1, n2], 15_000)
    assert H.running?(h), "clusterd exited:\n" <> H.clusterd_logs_tail(ctx)
  end
end

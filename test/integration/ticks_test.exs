# Ticks: links stay up while idle for many tick periods, and a member that
# goes silent (SIGSTOP) is dropped after net_ticktime, then meshed again when
# it comes back.
defmodule Clusterd.TicksTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H
  alias Clusterd.Procs

  setup context, do: {:ok, H.setup_test(context)}

  test "idle links survive; a silent member is dropped after net_ticktime and healed later",
       ctx do
    members =
      H.start_erl_nodes(ctx, ~w(n1 n2 n3),
        connect_all: false,
        args: ["-kernel", "net_ticktime", "2"]
      )

    [_, _, n3] = members

    config =
      H.write_config(ctx,
        hosts: members,
        poll_interval: 600_000,
        node_extra: ["  net_ticktime: 2"]
      )

    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)

    # Three whole tick periods with no traffic but ticks: nothing drops.
    Process.sleep(6_000)

    refute H.clusterd_log(h) =~ "link down",
           "an idle link was dropped:\n" <> H.clusterd_logs_tail(ctx)

    assert H.full_mesh?(members)

    pid = H.os_pid_of(ctx, n3)
    Procs.signal(pid, "STOP")

    try do
      H.wait_for_log(ctx, h, ~r/link down.*node=n3@127\.0\.0\.1.*no traffic for 2 s/)
    after
      Procs.signal(pid, "CONT")
    end

    H.wait_for_full_mesh(ctx, members, 30_000)
    assert H.running?(h)
  end

  test "a reload that shortens net_ticktime applies to the links already up", ctx do
    # Started with net_ticktime 60, reloaded to 2: a member that then goes
    # silent must be dropped after 2 s of silence, not after 60.
    members =
      H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false, args: ["-kernel", "net_ticktime", "2"])

    [_, n2] = members
    opts = [hosts: members, poll_interval: 600_000]
    config = H.write_config(ctx, opts ++ [node_extra: ["  net_ticktime: 60"]])
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    H.write_config(ctx, opts ++ [node_extra: ["  net_ticktime: 2"]])
    H.signal(h, "HUP")
    H.wait_for_log(ctx, h, ~r/net_ticktime changed.*net_ticktime_s=2/)

    pid = H.os_pid_of(ctx, n2)
    Procs.signal(pid, "STOP")

    try do
      H.wait_for_log(ctx, h, ~r/link down.*node=n2@127\.0\.0\.1.*no traffic for 2 s/, 15_000)
    after
      Procs.signal(pid, "CONT")
    end

    H.wait_for_full_mesh(ctx, members, 30_000)
    assert H.running?(h)
  end
end

# Wall-clock jumps change nothing but log timestamps: clusterd runs under
# libfaketime (Debian's faketime) with the real-time clock jumped a day
# forward and then two days back while CLOCK_MONOTONIC is left alone
# (FAKETIME_DONT_FAKE_MONOTONIC). Its links must not time out, its heals
# must not stall. If a tick, deadline or backoff read the wall clock, the
# forward jump would drop every link as silent for a day and the backward
# jump would put every retry two days away. (scripts/check-clocks.sh, in
# `make lint`, checks the same thing in the source.)
defmodule Clusterd.ClockJumpTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  @libfaketime "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

  setup context, do: {:ok, H.setup_test(context)}

  defp jump(file, spec), do: File.write!(file, spec <> "\n")

  defp log_days(h) do
    H.clusterd_log(h)
    |> String.split("\n")
    |> Enum.flat_map(fn l ->
      case Regex.run(~r/^time=(\d{4}-\d\d-\d\d)T/, l) do
        [_, day] -> [day]
        _ -> []
      end
    end)
    |> Enum.uniq()
  end

  test "the wall clock jumps a day forward and two back: no link drops, heals go on", ctx do
    assert File.exists?(@libfaketime), "libfaketime missing: apt-get install faketime"
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    [n1, n2, n3] = members
    ft = Path.join(ctx.dir, "faketime")
    jump(ft, "+0")

    asan = [System.get_env("ASAN_OPTIONS"), "verify_asan_link_order=0"]

    env = [
      {"LD_PRELOAD", @libfaketime},
      {"FAKETIME_TIMESTAMP_FILE", ft},
      {"FAKETIME_NO_CACHE", "1"},
      {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
      {"ASAN_OPTIONS", asan |> Enum.reject(&(&1 in [nil, ""])) |> Enum.join(":")}
    ]

    config = H.write_config(ctx, hosts: members, node_extra: ["  net_ticktime: 10"])
    h = H.start_clusterd(ctx, config, env: env, args: ["-v"])
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    H.install_link_monitors(members)
    [today] = log_days(h)

    # A day forward: longer than any timeout clusterd has.
    jump(ft, "+1d")
    Process.sleep(2_000)
    true = :erpc.call(n1, :erlang, :disconnect_node, [n2], 5000)
    H.wait_for_full_mesh(ctx, members)

    # Two days back (one before the start).
    jump(ft, "-1d")
    Process.sleep(2_000)
    true = :erpc.call(n2, :erlang, :disconnect_node, [n3], 5000)
    H.wait_for_full_mesh(ctx, members)
    Process.sleep(2_000)

    # libfaketime was in effect: the log's timestamps moved.
    days = log_days(h)
    assert length(days) >= 3, "the log's days did not jump (#{inspect(days)}): faketime not in effect"
    assert today in days

    # clusterd's own links never dropped (no "link down"), members saw only
    # the two cuts we made, and clusterd still answers.
    refute H.clusterd_log(h) =~ "link down", H.clusterd_logs_tail(ctx)
    H.wait_for_hidden_peer(ctx, members, h.node)
    events = H.link_events(members)
    assert Enum.map(events[n1], &elem(&1, 0)) == [n2]
    assert Enum.sort(Enum.map(events[n2], &elem(&1, 0))) == Enum.sort([n1, n3])
    assert Enum.map(events[n3], &elem(&1, 0)) == [n2]
    r = H.run_cli(ctx, ["status", "-c", config, "--json"])
    assert r.status == 0, r.err
    assert H.running?(h)
  end
end

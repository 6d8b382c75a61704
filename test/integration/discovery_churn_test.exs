# Discovery that changes many times a second (here: the static hosts list
# flipping a member in and out on every SIGHUP reload, 10 times a second)
# costs a bounded number of actions: reconcile.max_actions_per_second is a
# token bucket (bursts up to 4 per member), the planned actions over
# the limit are put off and planned again from what is observed then. The
# cluster ends meshed once discovery settles, and clusterd's memory does not
# grow with the number of changes.
defmodule Clusterd.DiscoveryChurnTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H
  alias Clusterd.JSON

  setup context, do: {:ok, H.setup_test(context)}

  @rate 2
  @changes 100

  defp stats(ctx, config) do
    {:ok, j} =
      H.wait_until(20_000, fn ->
        r = H.run_cli(ctx, ["status", "-c", config, "--json"])
        r.status == 0 and JSON.decode!(r.out)
      end)

    j["stats"]
  end

  defp rss_kib(os_pid) do
    [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, File.read!("/proc/#{os_pid}/status"))
    String.to_integer(kb)
  end

  # Writes the config next to `config` and renames it over (a reload never
  # reads half a file).
  defp put_config(ctx, config, hosts) do
    tmp = H.write_config(ctx, hosts: hosts, file: "next.yaml", reconcile_extra: extra())
    File.rename!(tmp, config)
  end

  defp extra, do: ["  max_actions_per_second: #{@rate}"]

  test "#{@changes} discovery changes in 10 s: actions within the rate limit, memory flat, meshed after",
       ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4), connect_all: false)
    n4 = List.last(members)
    config = H.write_config(ctx, hosts: members, reconcile_extra: extra())
    # Under ASan, freed memory waits in a quarantine (256 MiB by default)
    # and would count as growth: keep it small for this measurement.
    asan = [System.get_env("ASAN_OPTIONS"), "quarantine_size_mb=1"]
    env = [{"ASAN_OPTIONS", asan |> Enum.reject(&(&1 in [nil, ""])) |> Enum.join(":")}]
    h = H.start_clusterd(ctx, config, env: env)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    Process.sleep(500)
    s0 = stats(ctx, config)
    rss0 = rss_kib(h.os_pid)
    t0 = H.now_ms()

    # n4 leaves and comes back, again and again (prune: each leave is positive
    # evidence, each return a join).
    for i <- 1..@changes do
      hosts = if rem(i, 2) == 1, do: members -- [n4], else: members
      put_config(ctx, config, hosts)
      H.signal(h, "HUP")
      Process.sleep(100)
    end

    s1 = stats(ctx, config)
    secs = H.elapsed_ms(t0) / 1000
    sent = s1["actions_sent"] - s0["actions_sent"]
    # The bucket: up to max(rate, 4 x 4 members) at once, then `rate` a
    # second (+ a spare for a pass that was already running). Without the
    # limit this makes ~200 actions.
    bound = max(@rate, 4 * length(members)) + @rate * secs + 2
    assert sent <= bound, "#{sent} actions in #{secs} s for #{@changes} changes (bound #{bound})"
    assert s1["actions_deferred"] > s0["actions_deferred"], "the limit never deferred anything"
    H.wait_for_log(ctx, h, ~r/actions rate-limited/)

    # Discovery settles with n4 in: meshed, and memory did not grow with it.
    H.wait_for_full_mesh(ctx, members, 30_000)
    H.wait_for_hidden_peer(ctx, members, h.node)
    rss1 = rss_kib(h.os_pid)
    assert rss1 < rss0 + 16 * 1024, "RSS grew from #{rss0} KiB to #{rss1} KiB"
    assert H.running?(h)
  end
end

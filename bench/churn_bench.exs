# clusterd's resources idle and during churn (make bench, part `churn`): N
# real `erl` members (default 50, OTP defaults) meshed by clusterd
# (safety-net poll 10 s), then an idle window, then a churn window in which
# every few seconds either a random member is killed (SIGKILL) and started
# again under the same name, or a random link is dropped
# (:erlang.disconnect_node/1 on one end). Measured on clusterd's process:
# CPU (/proc utime+stime, 10 ms ticks) per window, RSS and open file
# descriptors before and after, and how long after the last event the
# observer sees the full mesh again. Writes its Markdown section to
# $BENCH_OUT.

Code.require_file("bench_lib.exs", __DIR__)

Node.set_cookie(String.to_atom(System.get_env("BENCH_COOKIE")))
tmp = System.get_env("BENCH_TMP")
n = String.to_integer(System.get_env("BENCH_CHURN_NODES", "50"))
idle_s = String.to_integer(System.get_env("BENCH_CHURN_IDLE_S", "60"))
churn_s = String.to_integer(System.get_env("BENCH_CHURN_S", "60"))
every_ms = String.to_integer(System.get_env("BENCH_CHURN_EVERY_MS", "3000"))

names = for i <- 1..n, do: :"ch#{i}@127.0.0.1"
members = Map.new(names, fn name -> {name, Bench.start_member(Atom.to_string(name), [])} end)
:ok = Bench.wait_registered(names, 120_000)
cfg = "#{tmp}/churn_#{n}.yaml"
Bench.write_config(cfg, names, 10_000)
{_port, cpid} = cd = Bench.start_clusterd(cfg)
deadline = fn ms -> System.monotonic_time(:millisecond) + ms end
:ok = Bench.wait_until(fn -> Bench.full_mesh?(names) end, deadline.(120_000))
:timer.sleep(2000)

fds = fn -> length(File.ls!("/proc/#{cpid}/fd")) end
snap = fn -> %{rss_kb: Bench.rss_kb(cpid), anon_kb: Bench.rss_anon_kb(cpid), fds: fds.(), ticks: Bench.cpu_ticks(cpid)} end

s0 = snap.()
:timer.sleep(idle_s * 1000)
s1 = snap.()

registered? = fn name ->
  short = name |> Atom.to_string() |> String.split("@") |> hd() |> String.to_charlist()

  case :erl_epmd.names(~c"127.0.0.1") do
    {:ok, l} -> List.keymember?(l, short, 0)
    _ -> false
  end
end

# one event every every_ms: odd ones kill and restart a member, even ones drop a link
t_end = deadline.(churn_s * 1000)

{members, counts} =
  Stream.iterate(1, &(&1 + 1))
  |> Enum.reduce_while({members, %{restarts: 0, drops: 0}}, fn i, {ms, c} ->
    if System.monotonic_time(:millisecond) >= t_end do
      {:halt, {ms, c}}
    else
      t_next = System.monotonic_time(:millisecond) + every_ms

      {ms, c} =
        if rem(i, 2) == 1 do
          victim = Enum.random(names)
          {_p, pid} = ms[victim]
          Bench.kill(pid)
          :ok = Bench.wait_until(fn -> not registered?.(victim) end, deadline.(10_000))
          {Map.put(ms, victim, Bench.start_member(Atom.to_string(victim), [])), %{c | restarts: c.restarts + 1}}
        else
          [a, b] = Enum.take_random(names, 2)
          :erpc.call(a, :erlang, :disconnect_node, [b], 5000)
          {ms, %{c | drops: c.drops + 1}}
        end

      :timer.sleep(max(0, t_next - System.monotonic_time(:millisecond)))
      {:cont, {ms, c}}
    end
  end)

s2 = snap.()
t_last = Bench.now_us()
mesh = Bench.wait_until(fn -> Bench.full_mesh?(names) end, deadline.(120_000))
mesh_ms = (Bench.now_us() - t_last) / 1000
:timer.sleep(5000)
s3 = snap.()

Bench.stop_clusterd(cd)
Enum.each(members, fn {_name, {_port, pid}} -> Bench.kill(pid) end)

per_min = fn ticks, s -> ticks * 10 * 60 / s end
f1 = fn v -> :erlang.float_to_binary(v / 1, decimals: 1) end
Bench.result(%{bench: "churn", nodes: n, idle_cpu_ms_min: per_min.(s1.ticks - s0.ticks, idle_s),
  churn_cpu_ms_min: per_min.(s2.ticks - s1.ticks, churn_s), rss_kb_start: s0.rss_kb, rss_kb_after_churn: s2.rss_kb,
  fds_start: s0.fds, fds_after_churn: s2.fds, restarts: counts.restarts, drops: counts.drops, mesh_ms: mesh_ms})

md = """
## clusterd's resources idle and during churn

#{n} real `erl` members (OTP defaults) meshed by clusterd (`Cluster.Strategy.Epmd` hosts list,
safety-net poll 10 s). First #{idle_s} s idle, then #{churn_s} s of churn: every #{every_ms} ms one event,
alternately a random member killed with SIGKILL and started again under the same name (once its
name has left epmd), or a random link dropped (`:erlang.disconnect_node/1` on one end; OTP 25's
`prevent_overlapping_partitions` then cuts more). #{counts.restarts} restarts and #{counts.drops} drops in all.
Every restarted VM boots on the same 2 cores, so the churn window is a busy machine. CPU is
clusterd's process only (/proc utime+stime, 10 ms ticks), per minute.

| measure | idle | churn |
|---|---|---|
| clusterd CPU ms per minute | #{f1.(per_min.(s1.ticks - s0.ticks, idle_s))} | #{f1.(per_min.(s2.ticks - s1.ticks, churn_s))} |
| clusterd RSS KiB at the start → end of the window | #{s0.rss_kb} → #{s1.rss_kb} | #{s1.rss_kb} → #{s2.rss_kb} (#{s3.rss_kb} five seconds after the mesh was whole again) |
| clusterd private RSS (RssAnon) KiB, start → end | #{s0.anon_kb} → #{s1.anon_kb} | #{s1.anon_kb} → #{s2.anon_kb} (#{s3.anon_kb} afterwards) |
| clusterd open file descriptors, start → end | #{s0.fds} → #{s1.fds} | #{s1.fds} → #{s2.fds} (#{s3.fds} afterwards) |

After the last event the observer saw the full mesh again #{if mesh == :ok, do: "#{f1.(mesh_ms)} ms later", else: "not within 120 s"}.
`BENCH_CHURN_NODES`, `BENCH_CHURN_IDLE_S`, `BENCH_CHURN_S` and `BENCH_CHURN_EVERY_MS` change the sizes.
"""

File.write!(System.fetch_env!("BENCH_OUT"), md)
IO.puts(md)

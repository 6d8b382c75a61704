# clusterd side by side with libcluster, same machine, same run, same
# members: N real `erl` nodes (OTP defaults, connect_all true) meshed once by
# clusterd (Cluster.Strategy.Epmd hosts list) and then by libcluster 3.5
# running inside every member with the same hosts list (its Epmd strategy,
# `timeout: 5000`: a reconnect pass every 5 s, which is what makes it heal).
# Run by bench/run.sh (part `libcluster`) in a hidden observer node, with
# libcluster built by bench/libcluster_build.sh into $BENCH_LIBCLUSTER_EBIN.
# Writes its Markdown section to $BENCH_OUT.
#
# The judge is the observer calling :erlang.nodes/0 on every member. Per N:
#  1. clusterd: R cold starts (members up and unconnected, clock from the
#     launch of clusterd), then D random drops healed, then an idle window.
#  2. libcluster: the same members load libcluster, jason and telemetry
#     (the code memory this adds is recorded); R cold starts (members
#     unconnected, clock from the moment the observer asks every member at
#     once to start Cluster.Supervisor), D drops, the same idle window.

Code.require_file("bench_lib.exs", __DIR__)

defmodule LibclBench do
  alias ClusterdBench.LibclusterHost, as: Host

  @tmp System.get_env("BENCH_TMP")

  def ebin_args do
    elixir = :code.lib_dir(:elixir) |> to_string() |> Path.dirname()
    ebins = for app <- ~w(elixir logger), do: Path.join([elixir, app, "ebin"])
    Enum.flat_map(ebins ++ [System.fetch_env!("BENCH_LIBCLUSTER_EBIN")], &["-pa", &1])
  end

  def disconnect_all(names) do
    for a <- names do
      :erpc.call(a, :erlang, :nodes, []) |> Enum.each(&:erpc.call(a, :erlang, :disconnect_node, [&1]))
    end

    :timer.sleep(300)
  end

  def deadline(ms), do: System.monotonic_time(:millisecond) + ms

  def stats(samples) do
    s = Enum.sort(samples)
    %{n: length(s), median: Bench.percentile(s, 50), p99: Bench.percentile(s, 99),
      min: hd(s), max: List.last(s)}
  end

  # pause_ms: the longest random pause between drops. libcluster's passes
  # are every 5 s, so its drops get a pause uniform over 0-5 s (a random
  # phase); clusterd's heal does not depend on a phase.
  def heal_samples(names, drops, pause_ms) do
    for _ <- 1..drops do
      [a, b] = Enum.take_random(names, 2)
      t0 = Bench.now_us()
      :erpc.call(a, :erlang, :disconnect_node, [b])
      :ok = Bench.wait_until(fn -> Bench.full_mesh?(names) end, deadline(30_000))
      dt = (Bench.now_us() - t0) / 1000
      :timer.sleep(50 + :rand.uniform(pause_ms))
      dt
    end
  end

  def ticks(pids), do: pids |> Enum.map(&Bench.cpu_ticks/1) |> Enum.sum()

  def rss_sum(pids), do: pids |> Enum.map(&(Bench.rss_kb(&1) || 0)) |> Enum.sum()

  def clusterd_side(n, names, pids, rounds, drops, idle_s) do
    # the last round's clusterd stays for the drops and the idle window
    {cold, cd} =
      Enum.map_reduce(1..rounds, nil, fn r, _ ->
        disconnect_all(names)
        cfg = "#{@tmp}/libcl_cd_#{n}_#{r}.yaml"
        Bench.write_config(cfg, names, 5000)
        t0 = Bench.now_us()
        cd = Bench.start_clusterd(cfg)
        :ok = Bench.wait_until(fn -> Bench.full_mesh?(names) end, deadline(60_000))
        dt = (Bench.now_us() - t0) / 1000

        if r < rounds do
          Bench.stop_clusterd(cd)
          {dt, nil}
        else
          {dt, cd}
        end
      end)

    {_port, cpid} = cd
    heal = heal_samples(names, drops, 500)
    :timer.sleep(1000)
    m0 = ticks(pids)
    c0 = Bench.cpu_ticks(cpid)
    :timer.sleep(idle_s * 1000)
    c1 = Bench.cpu_ticks(cpid)
    m1 = ticks(pids)
    rss = Bench.rss_kb(cpid)
    anon = Bench.rss_anon_kb(cpid)
    members_rss = rss_sum(pids)
    Bench.stop_clusterd(cd)

    %{cold: stats(cold), heal: stats(heal), rss_kb: rss, anon_kb: anon, cpu_ms_min: (c1 - c0) * 10 * 60 / idle_s,
      members_cpu_ms_min: (m1 - m0) * 10 * 60 / idle_s, members_rss_kb: members_rss}
  end

  def libcluster_side(_n, names, pids, rounds, drops, idle_s) do
    codes = Enum.map(names, &:erpc.call(&1, Host, :prepare, [], 60_000))
    code = for k <- [:telemetry, :jason, :libcluster], into: %{}, do: {k, codes |> Enum.map(& &1[k]) |> Enum.sum()}
    topo = [bench: [strategy: Cluster.Strategy.Epmd, config: [hosts: names, timeout: 5000]]]

    cold =
      for r <- 1..rounds do
        disconnect_all(names)
        t0 = Bench.now_us()
        reqs = Enum.map(names, &:erpc.send_request(&1, Host, :start, [topo]))
        :ok = Bench.wait_until(fn -> Bench.full_mesh?(names) end, deadline(60_000))
        dt = (Bench.now_us() - t0) / 1000
        Enum.each(reqs, &(:ok = :erpc.receive_response(&1, 60_000)))
        if r < rounds, do: Enum.each(names, &(:ok = :erpc.call(&1, Host, :stop, [])))
        dt
      end

    heal = heal_samples(names, drops, 5000)
    :timer.sleep(1000)
    red0 = names |> Enum.map(&:erpc.call(&1, Host, :reductions, [])) |> Enum.sum()
    m0 = ticks(pids)
    :timer.sleep(idle_s * 1000)
    m1 = ticks(pids)
    red1 = names |> Enum.map(&:erpc.call(&1, Host, :reductions, [])) |> Enum.sum()
    procs = names |> Enum.map(&:erpc.call(&1, Host, :process_memory, [])) |> Enum.sum()
    members_rss = rss_sum(pids)
    Enum.each(names, &:erpc.call(&1, Host, :stop, []))

    %{cold: stats(cold), heal: stats(heal), code_bytes: code, proc_bytes: procs,
      reductions_min: (red1 - red0) * 60 / idle_s, members_cpu_ms_min: (m1 - m0) * 10 * 60 / idle_s,
      members_rss_kb: members_rss}
  end

  def run(n, rounds, drops, idle_s) do
    names = for i <- 1..n, do: :"lc#{i}@127.0.0.1"
    members = Enum.map(names, &Bench.start_member(Atom.to_string(&1), ebin_args()))
    pids = Enum.map(members, fn {_port, pid} -> pid end)
    :ok = Bench.wait_registered(names, 120_000)
    cd = clusterd_side(n, names, pids, rounds, drops, idle_s)
    disconnect_all(names)
    lc = libcluster_side(n, names, pids, rounds, drops, idle_s)
    Enum.each(pids, &Bench.kill/1)
    r = %{nodes: n, rounds: rounds, drops: drops, idle_s: idle_s, clusterd: cd, libcluster: lc}
    IO.puts("RESULT " <> inspect(r))
    r
  end
end

Node.set_cookie(String.to_atom(System.get_env("BENCH_COOKIE")))
sizes = System.get_env("BENCH_LIBCL_NODES", "6 20") |> String.split() |> Enum.map(&String.to_integer/1)
rounds = String.to_integer(System.get_env("BENCH_LIBCL_ROUNDS", "5"))
drops = String.to_integer(System.get_env("BENCH_LIBCL_DROPS", "50"))
idle = String.to_integer(System.get_env("BENCH_LIBCL_IDLE_S", "30"))
results = Enum.map(sizes, &LibclBench.run(&1, rounds, drops, idle))

f1 = fn v -> :erlang.float_to_binary(v / 1, decimals: 1) end
ratio = fn a, b -> if b > 0, do: :erlang.float_to_binary(a / b, decimals: 2), else: "–" end

rows =
  Enum.flat_map(results, fn %{nodes: n, clusterd: c, libcluster: l} ->
    proc_kib = l.proc_bytes / 1024
    own_kib = l.code_bytes.libcluster / 1024
    code_kib = (l.code_bytes.libcluster + l.code_bytes.jason + l.code_bytes.telemetry) / 1024

    [
      "| #{n} | cold start → full mesh, median ms (#{c.cold.n} rounds) | #{f1.(c.cold.median)} | #{f1.(l.cold.median)} | #{ratio.(c.cold.median, l.cold.median)} |",
      "| #{n} | cold start → full mesh, max ms | #{f1.(c.cold.max)} | #{f1.(l.cold.max)} | #{ratio.(c.cold.max, l.cold.max)} |",
      "| #{n} | heal after a dropped link, median ms (#{c.heal.n} drops) | #{f1.(c.heal.median)} | #{f1.(l.heal.median)} | #{ratio.(c.heal.median, l.heal.median)} |",
      "| #{n} | heal, p99 ms | #{f1.(c.heal.p99)} | #{f1.(l.heal.p99)} | #{ratio.(c.heal.p99, l.heal.p99)} |",
      "| #{n} | memory: clusterd's RSS / libcluster's code and processes summed over the members, KiB | #{c.rss_kb} | #{f1.(code_kib + proc_kib)} (code #{f1.(own_kib)} libcluster + #{f1.(code_kib - own_kib)} jason and telemetry; processes #{f1.(proc_kib)}) | #{ratio.(c.rss_kb, code_kib + proc_kib)} |",
      "| #{n} | memory without jason's code (an application may load it anyway), KiB | #{c.rss_kb} | #{f1.(code_kib + proc_kib - l.code_bytes.jason / 1024)} | #{ratio.(c.rss_kb, code_kib + proc_kib - l.code_bytes.jason / 1024)} |",
      "| #{n} | memory: clusterd's private RSS (RssAnon: without the shared libraries' pages) / libcluster's as above, KiB | #{c.anon_kb} | #{f1.(code_kib + proc_kib)} | #{ratio.(c.anon_kb, code_kib + proc_kib)} |",
      "| #{n} | the members' VmRSS summed, KiB (libcluster's column also holds Elixir, logger, ssl, inets loaded for it) | #{c.members_rss_kb} | #{l.members_rss_kb} | #{ratio.(c.members_rss_kb, l.members_rss_kb)} |",
      "| #{n} | idle CPU per minute: clusterd's process / libcluster's reductions, ms or reductions | #{f1.(c.cpu_ms_min)} ms | #{round(l.reductions_min)} reductions | – |",
      "| #{n} | idle CPU per minute, all members' VMs together (+ clusterd), ms | #{f1.(c.members_cpu_ms_min + c.cpu_ms_min)} | #{f1.(l.members_cpu_ms_min)} | #{ratio.(c.members_cpu_ms_min + c.cpu_ms_min, l.members_cpu_ms_min)} |"
    ]
  end)

md = """
## Side by side with libcluster (Epmd hosts list)

The same N real `erl` members (OTP 25 defaults, so `connect_all true`: `global` also connects
transitively), in the same run on the same machine, meshed first by clusterd and then by
libcluster #{System.get_env("BENCH_LIBCLUSTER_VERSION", "3.5.0")} running inside every member, both given the same hosts list
(`Cluster.Strategy.Epmd`; libcluster with `timeout: 5000`, a reconnect pass every 5 s, without
which its Epmd strategy connects once and never heals). libcluster, jason and telemetry were
built from source at bench time (bench/libcluster_build.sh; no Hex). The judge is a hidden
observer calling `:erlang.nodes/0` on every member.

- Cold start: members up and unconnected; the clock starts at clusterd's launch, or when the
  observer asks every member at once (erpc, all in flight together) to start
  `Cluster.Supervisor`, and stops at the full mesh.
- Heal: a random member runs `:erlang.disconnect_node/1` on another, #{drops} times; the clock
  stops when the full mesh holds again (OTP 25's `prevent_overlapping_partitions` makes one
  drop cut more links). Between drops a random pause: 50-550 ms for clusterd (its heal
  does not depend on a phase), 50-5050 ms for libcluster (so that drops fall at a random
  phase of its 5 s passes, which all members started together).
- Memory: clusterd's RSS (the whole process, shared libraries included; and its private
  part, RssAnon) against what
  libcluster adds to each member: the code memory of libcluster, jason and telemetry
  (`:erlang.memory(:code)` before and after loading each) and the memory of libcluster's and
  telemetry's processes, summed over the N members. Every module of the three is loaded, as
  a release (embedded mode) does; only the strategy in use would be loaded in interactive
  mode. Elixir itself, logger, ssl and inets are not counted (a libcluster user runs them
  anyway), but they are in the members' VmRSS row.
- Idle CPU: #{idle} s window after the drops, scaled to a minute; /proc ticks are 10 ms, so
  each process's figure is ± #{round(10 * 60 / idle)} ms per minute: the members' total is mostly noise.
- DNS/API requests: the Epmd strategies make none while meshed; the Kubernetes API
  comparison is its own section below (libcluster's `Kubernetes` strategy measured).

Ratio = clusterd : libcluster (below 1: clusterd is faster or smaller).

| N | measure | clusterd | libcluster | ratio |
|---|---|---|---|---|
#{Enum.join(rows, "\n")}

libcluster heals only at its next 5 s pass (whichever member passes first reconnects the
pair, then `global` meshes the rest), so its heal time is spread over 0-5 s; clusterd reacts to
the node events the members push. `BENCH_LIBCL_NODES`, `BENCH_LIBCL_ROUNDS`, `BENCH_LIBCL_DROPS`
and `BENCH_LIBCL_IDLE_S` change the sizes and counts.
"""

File.write!(System.fetch_env!("BENCH_OUT"), md)
IO.puts(md)

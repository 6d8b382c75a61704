# The benchmark helpers shared by mesh_bench.exs and tls_bench.exs: real
# `erl` members, clusterd started and stopped, the observer's judgement
# (:erlang.nodes/0 on every member) and the measurements themselves.

defmodule Bench do
  @cookie System.get_env("BENCH_COOKIE")
  @bin System.get_env("CLUSTERD_BIN", "priv/clusterd")
  @tmp System.get_env("BENCH_TMP")

  def now_us, do: System.monotonic_time(:microsecond)

  # BENCH_MEMBER_ARGS: extra erl flags for every member (the TLS bench sets
  # -proto_dist inet_tls there); BENCH_NODE_EXTRA: extra YAML lines under
  # clusterd's node: (its tls: section).
  def member_args, do: String.split(System.get_env("BENCH_MEMBER_ARGS", ""), " ", trim: true)
  def node_extra, do: System.get_env("BENCH_NODE_EXTRA", "")

  def start_member(name, extra) do
    erl = System.find_executable("erl")
    args =
      ["-name", name, "-setcookie", @cookie, "-noshell", "-noinput", "+S", "1", "+A", "1"] ++
        extra ++ member_args()

    port = Port.open({:spawn_executable, erl}, [:binary, :exit_status, args: args])
    {:os_pid, pid} = Port.info(port, :os_pid)
    {port, pid}
  end

  def wait_registered(names, deadline_ms) do
    t_end = System.monotonic_time(:millisecond) + deadline_ms
    wait_until(fn -> Enum.all?(names, &pingable?/1) end, t_end)
  end

  defp pingable?(n), do: :net_adm.ping(n) == :pong

  # Polls f with a 1 ms pause, so that the observer does not take the CPU
  # away from the members it is timing (2 cores in all).
  def wait_until(f, t_end) do
    cond do
      f.() -> :ok
      System.monotonic_time(:millisecond) > t_end -> :timeout
      true ->
        :timer.sleep(1)
        wait_until(f, t_end)
    end
  end

  def full_mesh?(nodes) do
    set = MapSet.new(nodes)

    Enum.all?(nodes, fn n ->
      case :erpc.call(n, :erlang, :nodes, [], 2000) do
        seen when is_list(seen) -> MapSet.subset?(MapSet.delete(set, n), MapSet.new(seen))
      end
    end)
  catch
    _, _ -> false
  end

  def kill(pid, sig \\ "KILL"), do: System.cmd("kill", ["-" <> sig, Integer.to_string(pid)])

  def write_config(path, nodes, poll) do
    hosts = Enum.map_join(nodes, ", ", &~s("#{&1}"))

    File.write!(path, """
    node:
      name: clusterd_bench@127.0.0.1
      cookie_file: #{@tmp}/cookie
    #{node_extra()}
    reconcile:
      poll_interval: #{poll}
    topologies:
      bench:
        strategy: Cluster.Strategy.Epmd
        config:
          hosts: [#{hosts}]
    """)
  end

  def start_clusterd(config) do
    log = config <> ".log"
    sh = "exec #{@bin} run -c #{config} 2>>#{log}"
    port = Port.open({:spawn_executable, "/bin/sh"}, [:binary, :exit_status, args: ["-c", sh]])
    {:os_pid, pid} = Port.info(port, :os_pid)
    {port, pid}
  end

  def stop_clusterd({port, pid}) do
    kill(pid, "TERM")
    receive do
      {^port, {:exit_status, _}} -> :ok
    after
      5000 -> kill(pid)
    end
  end

  def rss_kb(pid) do
    case File.read("/proc/#{pid}/status") do
      {:ok, s} ->
        [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, s)
        String.to_integer(kb)

      _ ->
        nil
    end
  end

  # The private part of the RSS (heap, stacks): VmRSS less the pages of
  # shared libraries and the binary, which other processes share.
  def rss_anon_kb(pid) do
    case File.read("/proc/#{pid}/status") do
      {:ok, s} ->
        [_, kb] = Regex.run(~r/RssAnon:\s+(\d+) kB/, s)
        String.to_integer(kb)

      _ ->
        nil
    end
  end

  def cpu_ticks(pid) do
    {:ok, s} = File.read("/proc/#{pid}/stat")
    # fields after the ")" of the command name: utime is 14th, stime 15th overall
    rest = s |> String.split(") ", parts: 2) |> List.last() |> String.split(" ")
    String.to_integer(Enum.at(rest, 11)) + String.to_integer(Enum.at(rest, 12))
  end

  def percentile(sorted, p) do
    idx = min(length(sorted) - 1, round(p / 100 * (length(sorted) - 1)))
    Enum.at(sorted, idx)
  end

  def result(map), do: IO.puts("RESULT " <> json(map))

  defp json(m) when is_map(m),
    do: "{" <> Enum.map_join(m, ",", fn {k, v} -> ~s("#{k}":) <> json(v) end) <> "}"

  defp json(v) when is_binary(v), do: ~s("#{v}")
  defp json(v) when is_float(v), do: :erlang.float_to_binary(v, decimals: 2)
  defp json(v) when is_nil(v), do: "null"
  defp json(v), do: to_string(v)

  # Cold start: N unconnected members are up; clusterd starts; time until the
  # observer sees the full mesh.
  def cold_start(n, connect_all, rounds) do
    names = for i <- 1..n, do: :"b#{i}@127.0.0.1"
    extra = if connect_all, do: [], else: ["-kernel", "connect_all", "false"]
    members = Enum.map(names, &start_member(Atom.to_string(&1), extra))
    :ok = wait_registered(names, 120_000)
    Enum.each(names, &:erlang.disconnect_node/1)

    samples =
      for r <- 1..rounds do
        # make sure nothing is connected before each round
        for a <- names, do: :erpc.call(a, :erlang, :nodes, []) |> Enum.each(&:erpc.call(a, :erlang, :disconnect_node, [&1]))
        :timer.sleep(200)
        cfg = "#{@tmp}/cold_#{n}_#{r}.yaml"
        write_config(cfg, names, 600_000)
        t0 = now_us()
        cd = start_clusterd(cfg)
        :ok = wait_until(fn -> full_mesh?(names) end, System.monotonic_time(:millisecond) + 60_000)
        dt = (now_us() - t0) / 1000
        stop_clusterd(cd)
        dt
      end

    sorted = Enum.sort(samples)
    r = %{bench: "cold_start", nodes: n, connect_all: connect_all, rounds: rounds,
          median_ms: percentile(sorted, 50), min_ms: hd(sorted), max_ms: List.last(sorted)}
    result(r)
    Enum.each(members, fn {_p, pid} -> kill(pid) end)
    r
  end

  # The machine's floor: the same unconnected members meshed without
  # clusterd, by the observer casting net_kernel:connect_node/1 for every
  # pair at once (all 1225 handshakes for 50 members in flight together).
  def floor(n, rounds) do
    names = for i <- 1..n, do: :"f#{i}@127.0.0.1"
    members = Enum.map(names, &start_member(Atom.to_string(&1), ["-kernel", "connect_all", "false"]))
    :ok = wait_registered(names, 120_000)

    samples =
      for _ <- 1..rounds do
        for a <- names, do: :erpc.call(a, :erlang, :nodes, []) |> Enum.each(&:erpc.call(a, :erlang, :disconnect_node, [&1]))
        :timer.sleep(200)
        indexed = Enum.with_index(names)
        t0 = now_us()
        for {a, i} <- indexed, {b, j} <- indexed, j > i, do: :rpc.cast(a, :net_kernel, :connect_node, [b])
        :ok = wait_until(fn -> full_mesh?(names) end, System.monotonic_time(:millisecond) + 60_000)
        (now_us() - t0) / 1000
      end

    sorted = Enum.sort(samples)
    r = %{bench: "floor", nodes: n, rounds: rounds, median_ms: percentile(sorted, 50),
          min_ms: hd(sorted), max_ms: List.last(sorted)}
    result(r)
    Enum.each(members, fn {_p, pid} -> kill(pid) end)
    r
  end

  # Heal: with a full mesh and clusterd running (safety-net poll 10 min, so
  # only node events can explain a fast heal), drop a random link `drops`
  # times and time until the full mesh holds again.
  def heal(n, drops) do
    names = for i <- 1..n, do: :"h#{i}@127.0.0.1"
    members = Enum.map(names, &start_member(Atom.to_string(&1), []))
    :ok = wait_registered(names, 120_000)
    cfg = "#{@tmp}/heal_#{n}.yaml"
    write_config(cfg, names, 600_000)
    cd = start_clusterd(cfg)
    :ok = wait_until(fn -> full_mesh?(names) end, System.monotonic_time(:millisecond) + 60_000)

    samples =
      for _ <- 1..drops do
        [a, b] = Enum.take_random(names, 2)
        t0 = now_us()
        :erpc.call(a, :erlang, :disconnect_node, [b])
        :ok = wait_until(fn -> full_mesh?(names) end, System.monotonic_time(:millisecond) + 30_000)
        dt = (now_us() - t0) / 1000
        :timer.sleep(50)
        dt
      end

    sorted = Enum.sort(samples)
    r = %{bench: "heal", nodes: n, drops: drops, median_ms: percentile(sorted, 50),
          p99_ms: percentile(sorted, 99), max_ms: List.last(sorted)}
    result(r)
    stop_clusterd(cd)
    Enum.each(members, fn {_p, pid} -> kill(pid) end)
    r
  end

  # clusterd's RSS after meshing n members, and its CPU while idle.
  def resources(n, idle_s) do
    names = for i <- 1..n, do: :"r#{i}@127.0.0.1"
    members = Enum.map(names, &start_member(Atom.to_string(&1), []))
    :ok = wait_registered(names, 120_000)
    cfg = "#{@tmp}/res_#{n}.yaml"
    write_config(cfg, names, 10_000)
    {_port, pid} = cd = start_clusterd(cfg)
    :ok = wait_until(fn -> full_mesh?(names) end, System.monotonic_time(:millisecond) + 60_000)
    :timer.sleep(1000)
    rss = rss_kb(pid)
    c0 = cpu_ticks(pid)
    :timer.sleep(idle_s * 1000)
    c1 = cpu_ticks(pid)
    rss2 = rss_kb(pid)
    hz = 100
    r = %{bench: "resources", nodes: n, rss_kb_after_mesh: rss, rss_kb_after_idle: rss2,
          idle_seconds: idle_s, cpu_ms_idle: (c1 - c0) * 1000 / hz, poll_interval_ms: 10_000}
    result(r)
    stop_clusterd(cd)
    Enum.each(members, fn {_p, pid} -> kill(pid) end)
    r
  end
end

# The benchmark itself (see dns_bench.exs, which loads it once the observer
# runs: a module compiled before distribution starts holds a stale pid).

defmodule Clusterd.DnsBench do
  use ExUnit.Case, async: false

  alias Clusterd.{Bind9, Harness, Pods}

  @svc "ex-cluster-svc.default.svc"
  @rounds 6

  setup context, do: {:ok, ctx: Harness.setup_test(context)}

  defp records(pods), do: Enum.map_join(pods, "", &"#{@svc} 30 IN A #{&1.ip}\n")

  defp config(ctx, net, dns, interval) do
    path = Path.join(ctx.dir, "clusterd-#{interval}.yaml")

    File.write!(path, """
    node:
      name: clusterd@#{net.coordinator_ip}
      cookie_file: #{ctx.cookie_file}
    resolver:
      nameservers: ["#{Bind9.server(dns)}"]
    topologies:
      k8s:
        strategy: Cluster.Strategy.Kubernetes.DNS
        config:
          service: "#{@svc}.cluster.local."
          application_name: ex-cluster
          polling_interval: #{interval}
    """)

    path
  end

  defp meshed_with?(pods, new) do
    Enum.all?(pods, &Harness.peer?(&1.node, new.node)) and
      Enum.all?(pods, &Harness.peer?(new.node, &1.node))
  end

  defp apart?(pods, new), do: Enum.all?(pods, &Harness.not_peer?(&1.node, new.node))

  defp wait!(what, f) do
    case Harness.wait_until(30_000, f, 2) do
      {:ok, _} -> :ok
      :timeout -> flunk("bench: #{what} did not happen within 30 s")
    end
  end

  defp percentile(sorted, p),
    do: Enum.at(sorted, min(length(sorted) - 1, round(p * (length(sorted) - 1))))

  def measure(ctx, interval) do
    net = Pods.network!(ctx)
    pods = for _ <- 1..4, do: Pods.start_pod!(ctx, net, "ex-cluster", connect_all: false)
    [p1, p2, p3, new] = pods
    base = [p1, p2, p3]
    dns = Bind9.start!(ctx, ip: net.gateway, records: records(base))
    h = Pods.start_clusterd!(ctx, net, config(ctx, net, dns, interval))
    Harness.wait_for_full_mesh(ctx, Enum.map(base, & &1.node), 30_000)

    {samples, _dns} =
      Enum.map_reduce(1..@rounds, dns, fn _, dns ->
        Process.sleep(:rand.uniform(interval))
        dns = Bind9.set_records!(dns, records(pods), wait: false)
        t0 = System.monotonic_time(:microsecond)
        wait!("meshing the new pod", fn -> meshed_with?(base, new) end)
        t1 = System.monotonic_time(:microsecond)
        Bind9.wait_loaded!(dns)
        dns = Bind9.set_records!(dns, records(base))
        wait!("disconnecting the pod", fn -> apart?(base, new) end)
        {(t1 - t0) / 1000, dns}
      end)

    Harness.stop_clusterd(h)
    samples
  end

  test "record appears -> pod meshed", %{ctx: ctx} do
    rows =
      for interval <- [1000, 5000] do
        s = measure(ctx, interval) |> Enum.sort()
        {interval, s}
      end

    lines =
      for {interval, s} <- rows do
        median = percentile(s, 0.5)
        max = List.last(s)

        "| #{interval} | #{length(s)} | #{fmt(hd(s))} | #{fmt(median)} | #{fmt(max)} | " <>
          "≤ #{interval + 50} | #{if max <= interval + 50, do: "met", else: "missed"} |"
      end

    md = """

    ## DNS discovery: record appears → pod meshed

    `Cluster.Strategy.Kubernetes.DNS` against a real bind9 on the pods' bridge; 3 pods
    (network namespaces, `ex-cluster@<ip>`, epmd on 4369) meshed, then a fourth pod's A
    record is added (zone file + SIGHUP) at a random phase of the polling. The clock stops when
    the observer sees the new pod in every member's `nodes()` and every member in its own.
    The records' TTL (30 s) is longer than the interval, so the interval alone paces the
    look-ups. Goal (issue 3): within one interval + 50 ms. (bench/dns_bench.exs)

    | polling_interval ms | rounds | min ms | median ms | max ms | goal ms | goal |
    |---|---|---|---|---|---|---|
    #{Enum.join(lines, "\n")}

    The delay is the wait for the next look-up (uniform over the interval) plus one
    round (a few ms: two queries) and the mesh (connects and one RPC per member).
    """

    File.write!(System.fetch_env!("BENCH_DNS_OUT"), md)
  end

  defp fmt(ms), do: :erlang.float_to_binary(ms / 1, decimals: 1)
end

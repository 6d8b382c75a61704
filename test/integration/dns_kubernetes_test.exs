# DNS discovery on pod-like hosts (test/support/pods.exs) against a real
# bind9 whose records change mid-test: Cluster.Strategy.Kubernetes.DNS (A and
# AAAA records of a headless service), DNSPoll, fail static (empty answers,
# SERVFAIL, a stopped server), prune: false, and a pod's resolv.conf with
# search domains and ndots:5 (the README example, unchanged).
defmodule Clusterd.DnsKubernetesTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Bind9, Harness, Pods}

  @svc "ex-cluster-svc.default.svc"

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  defp a_records(pods, ttl \\ 5),
    do: Enum.map_join(pods, "", &"#{@svc} #{ttl} IN A #{&1.ip}\n")

  defp aaaa_records(pods), do: Enum.map_join(pods, "", &"#{@svc} 5 IN AAAA #{&1.ip6}\n")

  # clusterd's config: one topology `k8s`, clusterd named after the
  # coordinator pod, and resolver.nameservers when given.
  defp write_config(ctx, net, strategy, options, opts \\ []) do
    resolver =
      case opts[:nameserver] do
        nil -> []
        s -> ["resolver:", "  nameservers: [\"#{s}\"]"]
      end

    prune = if Keyword.has_key?(opts, :prune), do: ["    prune: #{opts[:prune]}"], else: []

    lines =
      [
        "node:",
        "  name: clusterd@#{net.coordinator_ip}",
        "  cookie_file: #{ctx.cookie_file}",
        "  connect_timeout: 2000",
        "  rpc_timeout: 3000",
        "reconcile:",
        "  poll_interval: 2000"
      ] ++
        resolver ++
        ["topologies:", "  k8s:", "    strategy: #{strategy}"] ++
        prune ++ ["    config:"] ++ for({k, v} <- options, do: "      #{k}: #{inspect(v)}")

    path = Path.join(ctx.dir, "clusterd.yaml")
    File.write!(path, Enum.join(lines, "\n") <> "\n")
    path
  end

  defp nodes(pods), do: Enum.map(pods, & &1.node)

  defp log_lines(h, regex),
    do: Harness.clusterd_log(h) |> String.split("\n") |> Enum.filter(&Regex.match?(regex, &1))

  test "Kubernetes.DNS: three pods meshed from A records; a fourth joins when its record appears; " <>
         "a live pod whose record goes is disconnected",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..4, do: Pods.start_pod!(ctx, net, "ex-cluster", connect_all: false)
    [p1, p2, p3, p4] = pods
    dns = Bind9.start!(ctx, ip: net.gateway, records: a_records([p1, p2, p3]))

    config =
      write_config(
        ctx,
        net,
        "Cluster.Strategy.Kubernetes.DNS",
        [
          service: "#{@svc}.cluster.local.",
          application_name: "ex-cluster",
          polling_interval: 500
        ],
        nameserver: Bind9.server(dns)
      )

    h = Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, nodes([p1, p2, p3]))
    assert Harness.nodes_of(p4.node) == {:ok, []}, "a pod without a record was meshed"

    # `clusterd discover` shows the records, their TTLs and the members made.
    r = Pods.run_cli(ctx, net, ["discover", "-c", config])
    assert r.status == 0, r.out <> r.err

    for p <- [p1, p2, p3],
        do: assert(r.out =~ "A #{p.ip} (TTL 5 s) -> ex-cluster@#{p.ip}", r.out)

    assert r.out =~ ~r/AAAA #{Regex.escape(@svc)}.cluster.local. via [0-9.:]+: NODATA/

    # The fourth pod's record appears.
    dns = Bind9.set_records!(dns, a_records(pods))
    Harness.wait_for_full_mesh(ctx, nodes(pods))

    # p3's record goes while p3 lives on: it is disconnected on the others.
    _dns = Bind9.set_records!(dns, a_records([p1, p2, p4]))

    case Harness.wait_until(20_000, fn ->
           Enum.all?([p1, p2, p4], &Harness.not_peer?(&1.node, p3.node))
         end) do
      {:ok, _} -> :ok
      :timeout -> flunk("p3 still connected:\n" <> Harness.mesh_report(nodes(pods)))
    end

    assert Harness.full_mesh?(nodes([p1, p2, p4]))
    assert Harness.nodes_of(p3.node) == {:ok, []}

    assert [_ | _] =
             log_lines(h, ~r/msg="member left \(absent from a successful answer\)".*#{p3.ip}/)
  end

  test "fail static: an empty answer, SERVFAIL, then a stopped server, for several intervals " <>
         "each: the mesh is untouched; answers again: a new pod joins",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..4, do: Pods.start_pod!(ctx, net, "ex-cluster", connect_all: false)
    [p1, p2, p3, _p4] = pods
    three = nodes([p1, p2, p3])
    dns = Bind9.start!(ctx, ip: net.gateway, records: a_records([p1, p2, p3]))

    config =
      write_config(
        ctx,
        net,
        "kubernetes_dns",
        [
          service: "#{@svc}.cluster.local.",
          application_name: "ex-cluster",
          polling_interval: 300
        ],
        nameserver: Bind9.server(dns)
      )

    h = Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, three)
    Harness.install_link_monitors(three)

    # NXDOMAIN for A and AAAA.
    dns = Bind9.set_records!(dns, "")

    Harness.wait_for_log(
      ctx,
      h,
      ~r/discovery failed; keeping the last good members.*empty answer/
    )

    Process.sleep(1_500)

    # SERVFAIL.
    dns = Bind9.servfail!(dns)
    Harness.wait_for_log(ctx, h, ~r/discovery failed; keeping the last good members.*no server/)
    Process.sleep(1_500)

    # No server at all: timeouts.
    Bind9.stop(dns)
    Harness.wait_for_log(ctx, h, ~r/discovery failed; keeping the last good members.*timeout/)
    Process.sleep(1_500)

    assert Harness.full_mesh?(three), "links were cut:\n" <> Harness.mesh_report(three)
    refute Harness.clusterd_log(h) =~ "member left"

    for {m, events} <- Harness.link_events(three),
        do: assert(events == [], "#{m} lost links: #{inspect(events)}")

    # A server answers again, with a fourth pod.
    dns2 = Bind9.start!(ctx, ip: net.gateway, port: dns.port, records: a_records(pods))
    Harness.wait_for_log(ctx, h, ~r/discovery answers again/)
    Harness.wait_for_full_mesh(ctx, nodes(pods))
    Bind9.stop(dns2)
  end

  test "AAAA records: IPv6 pods are meshed as ex-cluster@<ipv6>", %{ctx: ctx} do
    net = Pods.network!(ctx)

    pods =
      for _ <- 1..3, do: Pods.start_pod!(ctx, net, "ex-cluster", ipv6: true, connect_all: false)

    dns = Bind9.start!(ctx, ip: net.gateway, records: aaaa_records(pods))

    config =
      write_config(
        ctx,
        net,
        "Cluster.Strategy.Kubernetes.DNS",
        [
          service: "#{@svc}.cluster.local.",
          application_name: "ex-cluster",
          polling_interval: 500
        ],
        nameserver: Bind9.server(dns)
      )

    h = Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, nodes(pods))
    for p <- pods, do: assert("#{p.node}" == "ex-cluster@#{p.ip6}")
    assert [_ | _] = log_lines(h, ~r/msg="member joined".*ex-cluster@fd00/)
  end

  test "prune: false keeps a member that a successful answer omits (a DNS subset)", %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..3, do: Pods.start_pod!(ctx, net, "app", connect_all: false)
    [p1, p2, _p3] = pods
    dns = Bind9.start!(ctx, ip: net.gateway, records: a_records(pods))

    config =
      write_config(
        ctx,
        net,
        "Cluster.Strategy.DNSPoll",
        [query: "#{@svc}.cluster.local", node_basename: "app", polling_interval: 300],
        nameserver: Bind9.server(dns),
        prune: false
      )

    h = Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, nodes(pods))
    Harness.install_link_monitors(nodes(pods))

    # Round-robin DNS answering with a subset.
    _dns = Bind9.set_records!(dns, a_records([p1, p2]))
    Harness.wait_for_log(ctx, h, ~r/msg="DNS round".*verdict=ok/)
    Process.sleep(2_000)

    assert Harness.full_mesh?(nodes(pods)), Harness.mesh_report(nodes(pods))
    refute Harness.clusterd_log(h) =~ "member left"

    for {m, events} <- Harness.link_events(nodes(pods)),
        do: assert(events == [], "#{m} lost links: #{inspect(events)}")
  end

  test "a pod's resolv.conf: the short service name through search domains and ndots:5 " <>
         "(the README example)",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..2, do: Pods.start_pod!(ctx, net, "ex-cluster", connect_all: false)
    dns = Bind9.start!(ctx, ip: net.gateway, port: 53, records: a_records(pods))

    Pods.put_etc(net.coordinator_ns, "resolv.conf", """
    nameserver #{net.gateway}
    search default.svc.cluster.local svc.cluster.local cluster.local
    options ndots:5
    """)

    config =
      write_config(ctx, net, "Cluster.Strategy.Kubernetes.DNS",
        service: "ex-cluster-svc",
        application_name: "ex-cluster",
        polling_interval: 500
      )

    Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, nodes(pods))
    # It went through the search list: the first suffix is the answer.
    assert [_ | _] = Bind9.queries(dns, "ex-cluster-svc.default.svc.cluster.local")
  end
end

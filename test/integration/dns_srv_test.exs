# Cluster.Strategy.Kubernetes.DNSSRV on pod-like hosts shaped like a
# StatefulSet behind a headless service: every pod named
# app@myapp-N.myapp-headless.default.svc.cluster.local, the names served by a
# real bind9 on the bridge (port 53), the nodes resolving each other through
# an inetrc file pointing at it, clusterd through its pod's resolv.conf.
defmodule Clusterd.DnsSrvTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Bind9, Harness, Pods}

  @headless "myapp-headless.default.svc"

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  defp host(i), do: "myapp-#{i}.#{@headless}.cluster.local"

  # A records of each pod's hostname, and SRV records (bare name and
  # _epmd._tcp, as CoreDNS serves both) for the pods in `members`.
  defp records(pods, members) do
    a = for {p, i} <- Enum.with_index(pods), do: "myapp-#{i}.#{@headless} 5 IN A #{p.ip}\n"

    srv =
      for {_p, i} <- Enum.with_index(pods),
          i in members,
          name <- [@headless, "_epmd._tcp.#{@headless}"],
          do: "#{name} 5 IN SRV 0 33 4369 #{host(i)}.\n"

    Enum.join(a ++ srv)
  end

  defp write_config(ctx, net, options) do
    lines =
      [
        "node:",
        "  name: clusterd@#{net.coordinator_ip}",
        "  cookie_file: #{ctx.cookie_file}",
        "  connect_timeout: 2000",
        "  rpc_timeout: 3000",
        "topologies:",
        "  k8s:",
        "    strategy: Cluster.Strategy.Kubernetes.DNSSRV",
        "    config:"
      ] ++ for({k, v} <- options, do: "      #{k}: #{inspect(v)}")

    path = Path.join(ctx.dir, "clusterd.yaml")
    File.write!(path, Enum.join(lines, "\n") <> "\n")
    path
  end

  defp start_statefulset(ctx, net, n) do
    inetrc = Path.join(ctx.dir, "inetrc")
    gw = net.gateway |> String.split(".") |> Enum.join(",")
    # Only the test's bind9: not the host's resolv.conf or hosts file.
    File.write!(inetrc, """
    {resolv_conf, ""}.
    {hosts_file, ""}.
    {nameserver, {#{gw}}, 53}.
    {lookup, [dns]}.
    """)

    for i <- 0..(n - 1) do
      Pods.start_pod!(ctx, net, "app",
        host: host(i),
        connect_all: false,
        erl_args: ["-kernel", "inetrc", ~s("#{inetrc}")]
      )
    end
  end

  test "SRV targets become app@<pod hostname>; a pod whose SRV record appears joins, " <>
         "one whose record goes is disconnected",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    dns = Bind9.start!(ctx, ip: net.gateway, port: 53)
    pods = start_statefulset(ctx, net, 4)
    [p0, p1, p2, p3] = pods
    dns = Bind9.set_records!(dns, records(pods, [0, 1, 2]))

    Pods.put_etc(net.coordinator_ns, "resolv.conf", """
    nameserver #{net.gateway}
    search default.svc.cluster.local svc.cluster.local cluster.local
    options ndots:5
    """)

    config =
      write_config(ctx, net,
        service: "myapp-headless",
        namespace: "default",
        application_name: "app",
        polling_interval: 500
      )

    h = Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, Enum.map([p0, p1, p2], & &1.node))
    assert "#{p0.node}" == "app@myapp-0.myapp-headless.default.svc.cluster.local"
    assert Harness.nodes_of(p3.node) == {:ok, []}

    # libcluster's bare name was asked, as an absolute name.
    assert [_ | _] = Bind9.queries(dns, "myapp-headless.default.svc.cluster.local")

    dns = Bind9.set_records!(dns, records(pods, [0, 1, 2, 3]))
    Harness.wait_for_full_mesh(ctx, Enum.map(pods, & &1.node))

    _dns = Bind9.set_records!(dns, records(pods, [0, 1, 3]))

    case Harness.wait_until(20_000, fn ->
           Enum.all?([p0, p1, p3], &Harness.not_peer?(&1.node, p2.node))
         end) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk("myapp-2 still connected:\n" <> Harness.mesh_report(Enum.map(pods, & &1.node)))
    end

    assert Harness.full_mesh?(Enum.map([p0, p1, p3], & &1.node))
    assert Harness.clusterd_log(h) =~ ~r/member left.*myapp-2/
  end

  test "the _port._proto form with port_name, and CLUSTER_DOMAIN from the environment",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    dns = Bind9.start!(ctx, ip: net.gateway, port: 53)
    pods = start_statefulset(ctx, net, 2)
    _dns = Bind9.set_records!(dns, records(pods, [0, 1]))
    Pods.put_etc(net.coordinator_ns, "resolv.conf", "nameserver #{net.gateway}\n")

    config =
      write_config(ctx, net,
        service: "myapp-headless",
        namespace: "default",
        application_name: "app",
        port_name: "epmd",
        polling_interval: 500
      )

    Pods.start_clusterd!(ctx, net, config,
      args: ["-v"],
      env: [{"CLUSTER_DOMAIN", "cluster.local."}]
    )

    Harness.wait_for_full_mesh(ctx, Enum.map(pods, & &1.node))
    assert [_ | _] = Bind9.queries(dns, "_epmd._tcp.myapp-headless.default.svc.cluster.local")
  end
end

# config/prod.yaml run the way k8s/coordinator/deployment.yaml runs it, on
# pod-like hosts (test/support/pods.exs) and a real bind9 as the cluster DNS:
# clusterd in its own "coordinator pod" whose resolv.conf has the Kubernetes
# search domains, named with `--name clusterd@<pod IP>`, serving HTTP on
# 0.0.0.0:9568 where the kubelet's probes and Prometheus reach it. /readyz is
# 503 while the DNS does not answer and 200 once it does; /metrics shows the
# app's pods as they join. Only the cookie path and the polling interval of
# prod.yaml are changed.
defmodule Clusterd.DeployProdTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Bind9, HTTP, Pods, Prometheus}
  alias Clusterd.Harness, as: H

  @svc "ex-cluster-svc.ex-cluster.svc"

  setup context, do: {:ok, ctx: H.setup_test(context)}

  defp a_records(pods), do: Enum.map_join(pods, "", &"#{@svc} 5 IN A #{&1.ip}\n")

  defp metrics(addr) do
    {:ok, %{status: 200, body: body}} = HTTP.get(addr, "/metrics")
    Prometheus.parse!(body)
  end

  defp members(m), do: Prometheus.value(m, "clusterd_topology_members", %{topology: "ex_cluster"})

  test "prod.yaml: not ready until the cluster DNS answers, then the pods are meshed and counted",
       %{ctx: ctx} do
    prod = File.read!(Path.join(H.root(), "config/prod.yaml"))
    assert prod =~ "cookie_file: /run/clusterd/cookie\n"
    assert prod =~ "polling_interval: 10000\n"

    config = Path.join(ctx.dir, "clusterd.yaml")

    File.write!(
      config,
      prod
      |> String.replace("cookie_file: /run/clusterd/cookie", "cookie_file: #{ctx.cookie_file}")
      |> String.replace("polling_interval: 10000", "polling_interval: 500")
    )

    net = Pods.network!(ctx)
    pods = for _ <- 1..3, do: Pods.start_pod!(ctx, net, "ex-cluster", connect_all: false)

    # The pod's resolv.conf as the kubelet writes it (namespace ex-cluster).
    Pods.put_etc(net.coordinator_ns, "resolv.conf", """
    nameserver #{net.gateway}
    search ex-cluster.svc.cluster.local svc.cluster.local cluster.local
    options ndots:5 timeout:1 attempts:1
    """)

    h = Pods.start_clusterd!(ctx, net, config, args: ["--name", "clusterd@#{net.coordinator_ip}"])
    H.wait_for_log(ctx, h, ~r/msg="http listening" addr=0\.0\.0\.0 port=9568/)
    addr = {net.coordinator_ip, 9568}

    # No DNS server yet: discovery fails, clusterd is alive but not ready.
    assert {:ok, _} =
             H.wait_until(20_000, fn ->
               Prometheus.value(metrics(addr), "clusterd_discovery_errors_total", %{
                 topology: "ex_cluster"
               }) >= 1.0
             end),
           H.clusterd_logs_tail(ctx)

    assert {:ok, %{status: 503, body: why}} = HTTP.get(addr, "/readyz")
    assert why =~ "ex_cluster"
    assert {:ok, %{status: 200}} = HTTP.get(addr, "/healthz")

    # The cluster DNS comes up with the three pods' records.
    dns = Bind9.start!(ctx, ip: net.gateway, port: 53, records: a_records(pods))

    assert {:ok, _} =
             H.wait_until(30_000, fn ->
               match?({:ok, %{status: 200}}, HTTP.get(addr, "/readyz"))
             end),
           "/readyz stayed 503 after the DNS answered\n" <> H.clusterd_logs_tail(ctx)

    H.wait_for_full_mesh(ctx, Enum.map(pods, & &1.node))

    assert {:ok, _} =
             H.wait_until(20_000, fn ->
               m = metrics(addr)
               members(m) == 3.0 and Prometheus.value(m, "clusterd_links_seen") == 3.0
             end)

    # A fourth pod: its record appears, it is meshed and counted.
    p4 = Pods.start_pod!(ctx, net, "ex-cluster", connect_all: false)
    Bind9.set_records!(dns, a_records(pods ++ [p4]))
    H.wait_for_full_mesh(ctx, Enum.map(pods ++ [p4], & &1.node), 30_000)

    assert {:ok, _} =
             H.wait_until(20_000, fn ->
               m = metrics(addr)
               members(m) == 4.0 and Prometheus.value(m, "clusterd_full_mesh") == 1.0
             end)

    {:ok, r} = HTTP.get(addr, "/metrics")
    refute String.contains?(r.raw, ctx.cookie)
  end
end

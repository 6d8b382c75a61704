# Cluster.Strategy.Kubernetes naming its members by DNS name rather than by
# address, with real pod-like nodes carrying those names:
#
#   mode: dns       app@10-1-2-3.<ns>.pod.<cluster domain> (the pod's A record)
#   mode: hostname  app@<hostname>.<service>.<ns>.svc.<cluster domain>
#                   (StatefulSet-like pods: spec.hostname + spec.subdomain)
#
# The nodes resolve each other through an inetrc file pointing at a real
# bind9 on the bridge. clusterd resolves the names through that bind9 (its
# pod's resolv.conf) in dns mode, and through its pod's hosts file in
# hostname mode, where nothing else resolves (the machine's resolver is not
# reachable from the pods' network).
defmodule Clusterd.KubeNameModesTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Bind9, Harness, Pods}
  alias Clusterd.KubeFixture, as: K

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  defp start_api(ctx, net) do
    fx = K.start!(ctx, host: net.gateway, tokens: ["tok-1"])
    K.service(fx, "myapp", %{"app" => "myapp"})
    {fx, K.service_account!(fx, "tok-1")}
  end

  defp write_config(ctx, net, sa, extra) do
    Harness.write_config(ctx,
      name: "clusterd@#{net.coordinator_ip}",
      topologies: [
        {"k8s", "kubernetes",
         [
           kubernetes_selector: "app=myapp",
           kubernetes_node_basename: "app",
           kubernetes_service_account_path: sa,
           watch_timeout: 20,
           backoff_min: 100,
           backoff_max: 1000
         ] ++ extra}
      ]
    )
  end

  # Pods whose nodes resolve names only through the test's bind9.
  defp start_pods(ctx, net, hosts) do
    inetrc = Path.join(ctx.dir, "inetrc")
    gw = net.gateway |> String.split(".") |> Enum.join(",")

    File.write!(inetrc, """
    {resolv_conf, ""}.
    {hosts_file, ""}.
    {nameserver, {#{gw}}, 53}.
    {lookup, [dns]}.
    """)

    for host <- hosts do
      Pods.start_pod!(ctx, net, "app",
        host: host,
        connect_all: false,
        erl_args: ["-kernel", "inetrc", ~s("#{inetrc}")]
      )
    end
  end

  defp a_records(pods, name_of),
    do: Enum.map_join(pods, "", fn p -> "#{name_of.(p)} 5 IN A #{p.ip}\n" end)

  defp wait_not_seen(ctx, members, node) do
    case Harness.wait_until(20_000, fn -> Enum.all?(members, &Harness.not_peer?(&1, node)) end) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk(
          "#{node} still connected:\n" <>
            Harness.mesh_report(members) <> "\n" <> Harness.clusterd_logs_tail(ctx)
        )
    end
  end

  for lookup <- ["pods", "endpointslices"] do
    test "mode dns (#{lookup}): app@10-x-y-z.default.pod.cluster.local members, resolved " <>
           "through DNS, meshed; a deleted pod is disconnected",
         %{ctx: ctx} do
      net = Pods.network!(ctx)
      dns = Bind9.start!(ctx, ip: net.gateway, port: 53)
      {fx, sa} = start_api(ctx, net)
      dashed = fn ip -> String.replace(ip, ".", "-") <> ".default.pod.cluster.local" end
      pods = start_pods(ctx, net, List.duplicate(dashed, 3))
      [a, b, c] = pods
      assert "#{a.node}" == "app@#{String.replace(a.ip, ".", "-")}.default.pod.cluster.local"

      _dns =
        Bind9.set_records!(
          dns,
          a_records(pods, &(String.replace(&1.ip, ".", "-") <> ".default.pod"))
        )

      Pods.put_etc(net.coordinator_ns, "resolv.conf", "nameserver #{net.gateway}\n")

      for {p, i} <- Enum.with_index(pods),
          do: K.pod(fx, "myapp-#{i}", ip: p.ip, labels: %{"app" => "myapp"}, ready: true)

      config = write_config(ctx, net, sa, mode: "dns", kubernetes_ip_lookup_mode: unquote(lookup))
      h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx), args: ["-v"])
      nodes = Enum.map(pods, & &1.node)
      Harness.wait_for_full_mesh(ctx, nodes)
      Harness.wait_for_hidden_peer(ctx, nodes, h.node)

      # clusterd asked bind9 for a member's name.
      assert [_ | _] =
               Bind9.queries(dns, String.replace(a.ip, ".", "-") <> ".default.pod.cluster.local")

      K.delete_pod(fx, "myapp-1")
      wait_not_seen(ctx, [a.node, c.node], b.node)
      assert Harness.full_mesh?([a.node, c.node])
      assert Harness.clusterd_log(h) =~ ~r/member left.*#{Regex.escape("#{b.node}")}/
    end
  end

  test "mode hostname: StatefulSet-like pods are app@myapp-N.myapp.default.svc.cluster.local, " <>
         "meshed from a hosts file; a pod without hostname is left out; a deleted pod is " <>
         "disconnected",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    dns = Bind9.start!(ctx, ip: net.gateway, port: 53)
    {fx, sa} = start_api(ctx, net)
    fqdn = fn i -> "myapp-#{i}.myapp.default.svc.cluster.local" end
    pods = start_pods(ctx, net, Enum.map(0..3, fqdn))
    [p0, p1, p2, p3] = pods
    indexed = Enum.with_index(pods)
    # the nodes' own look-ups
    _dns =
      Bind9.set_records!(
        dns,
        Enum.map_join(indexed, "", fn {p, i} ->
          "myapp-#{i}.myapp.default.svc 5 IN A #{p.ip}\n"
        end)
      )

    # clusterd: the names in its hosts file, no DNS server it can reach.
    Pods.put_etc(
      net.coordinator_ns,
      "hosts",
      "127.0.0.1 localhost\n" <>
        Enum.map_join(indexed, "", fn {p, i} -> "#{p.ip} #{fqdn.(i)}\n" end)
    )

    for {p, i} <- Enum.take(indexed, 3),
        do:
          K.pod(fx, "myapp-#{i}",
            ip: p.ip,
            labels: %{"app" => "myapp"},
            ready: true,
            hostname: "myapp-#{i}",
            subdomain: "myapp"
          )

    # ready, but no subdomain: no DNS name, so no member
    K.pod(fx, "myapp-3", ip: p3.ip, labels: %{"app" => "myapp"}, ready: true, hostname: "myapp-3")

    config =
      write_config(ctx, net, sa,
        mode: "hostname",
        kubernetes_service_name: "myapp",
        kubernetes_ip_lookup_mode: "endpointslices"
      )

    h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx), args: ["-v"])
    nodes = [p0.node, p1.node, p2.node]
    Harness.wait_for_full_mesh(ctx, nodes)
    Harness.wait_for_hidden_peer(ctx, nodes, h.node)
    assert "#{p0.node}" == "app@myapp-0.myapp.default.svc.cluster.local"
    assert Enum.all?(nodes, &Harness.not_peer?(&1, p3.node))

    # with its subdomain it joins
    K.pod(fx, "myapp-3", subdomain: "myapp")
    Harness.wait_for_full_mesh(ctx, Enum.map(pods, & &1.node))

    K.delete_pod(fx, "myapp-1")
    wait_not_seen(ctx, [p0.node, p2.node, p3.node], p1.node)
    assert Harness.full_mesh?([p0.node, p2.node, p3.node])
    assert Harness.clusterd_log(h) =~ ~r/member left.*myapp-1\.myapp/
  end
end

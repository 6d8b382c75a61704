# Cluster.Strategy.Kubernetes with pod-like BEAM nodes: clusterd runs in its
# own namespace as an in-cluster client of the API fixture (service-account
# token and ca.crt, KUBERNETES_SERVICE_HOST/PORT), lists and watches, and the
# mesh follows what the fixture says about the pods: ready pods join, a pod
# that turns not-ready or is deleted is disconnected, a terminating pod is
# neither connected nor disconnected by clusterd.
defmodule Clusterd.KubeMembershipTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Harness, Pods}
  alias Clusterd.KubeFixture, as: K

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  defp start_cluster(ctx, lookup, extra \\ []) do
    net = Pods.network!(ctx)
    fx = K.start!(ctx, host: net.gateway, tokens: ["tok-1"])
    K.service(fx, "myapp", %{"app" => "myapp"})
    sa = K.service_account!(fx, "tok-1")

    config =
      Harness.write_config(ctx,
        name: "clusterd@#{net.coordinator_ip}",
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: "app=myapp",
             kubernetes_node_basename: "app",
             kubernetes_ip_lookup_mode: lookup,
             kubernetes_service_account_path: sa,
             watch_timeout: 20,
             backoff_min: 100,
             backoff_max: 1000
           ] ++ extra}
        ]
      )

    {net, fx, config}
  end

  defp pods(ctx, net, n),
    do: for(_ <- 1..n, do: Pods.start_pod!(ctx, net, "app", connect_all: false))

  defp put_pod(fx, p, name, fields),
    do: K.pod(fx, name, [ip: p.ip, labels: %{"app" => "myapp"}] ++ fields)

  defp wait_not_seen(ctx, members, node) do
    case Harness.wait_until(20_000, fn -> Enum.all?(members, &Harness.not_peer?(&1, node)) end) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk("#{node} still connected:\n" <> Harness.mesh_report(members) <> "\n" <> Harness.clusterd_logs_tail(ctx))
    end
  end

  for lookup <- ["endpointslices", "pods"] do
    test "#{lookup}: added, not ready, terminating and deleted pods join and leave the mesh",
         %{ctx: ctx} do
      {net, fx, config} = start_cluster(ctx, unquote(lookup))
      [a, b, c, d, e] = pods(ctx, net, 5)
      for {p, n} <- [{a, 0}, {b, 1}, {c, 2}], do: put_pod(fx, p, "myapp-#{n}", ready: true)
      put_pod(fx, d, "myapp-3", ready: false)

      h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx), args: ["-v"])
      Harness.wait_for_full_mesh(ctx, [a.node, b.node, c.node])
      Harness.wait_for_hidden_peer(ctx, [a.node, b.node, c.node], h.node)
      # not ready: not a member, so nobody is asked to connect it
      assert Enum.all?([a.node, b.node, c.node], &Harness.not_peer?(&1, d.node))

      # ready now: joins
      put_pod(fx, d, "myapp-3", ready: true)
      Harness.wait_for_full_mesh(ctx, [a.node, b.node, c.node, d.node])

      # b turns not ready: disconnected everywhere
      put_pod(fx, b, "myapp-1", ready: false)
      wait_not_seen(ctx, [a.node, c.node, d.node], b.node)
      Harness.wait_for_full_mesh(ctx, [a.node, c.node, d.node])

      # c starts terminating: forgotten, but its links stay (its own
      # shutdown closes them)
      put_pod(fx, c, "myapp-2", terminating: true)
      Harness.wait_for_log(ctx, h, ~r/member leaving; forgotten without disconnecting.*#{c.node}/)
      Process.sleep(1_500)
      assert Harness.peer?(a.node, c.node) and Harness.peer?(d.node, c.node),
             "a terminating member was disconnected:\n" <> Harness.mesh_report([a.node, c.node, d.node])

      # a new pod that is already terminating is never connected
      put_pod(fx, e, "myapp-4", ready: true, terminating: true)
      Process.sleep(1_500)
      assert Enum.all?([a.node, d.node], &Harness.not_peer?(&1, e.node))

      # d is deleted: disconnected
      K.delete_pod(fx, "myapp-3")
      wait_not_seen(ctx, [a.node], d.node)

      # one list, then watches: no polling
      reqs = K.requests(fx)
      lists = Enum.count(reqs, &(&1["query"]["watch"] == nil))
      assert lists == 1, "expected one list, saw #{lists}"
      assert Enum.all?(reqs, &String.starts_with?(&1["ua"], "clusterd/"))
      assert Enum.all?(reqs, &(&1["auth"] == "Bearer tok-1"))
    end
  end

  test "endpoints (v1) lookup: ready addresses are members, notReadyAddresses are not",
       %{ctx: ctx} do
    {net, fx, config} = start_cluster(ctx, "endpoints")
    [a, b, c] = pods(ctx, net, 3)
    put_pod(fx, a, "myapp-0", ready: true)
    put_pod(fx, b, "myapp-1", ready: true)
    put_pod(fx, c, "myapp-2", ready: false)
    h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx))
    Harness.wait_for_full_mesh(ctx, [a.node, b.node])
    Harness.wait_for_hidden_peer(ctx, [a.node, b.node], h.node)
    assert Harness.not_peer?(a.node, c.node)
    put_pod(fx, c, "myapp-2", ready: true)
    Harness.wait_for_full_mesh(ctx, [a.node, b.node, c.node])
    assert Enum.any?(K.requests(fx), &(&1["path"] == "/api/v1/namespaces/default/endpoints"))
  end

  test "IPv6 pods: an IPv6 EndpointSlice gives app@<ipv6> members, meshed over IPv6",
       %{ctx: ctx} do
    {net, fx, config} = start_cluster(ctx, "endpointslices")
    [a, b] = for _ <- 1..2, do: Pods.start_pod!(ctx, net, "app", ipv6: true, connect_all: false)
    K.pod(fx, "myapp-0", ips: [a.ip6], labels: %{"app" => "myapp"}, ready: true)
    K.pod(fx, "myapp-1", ips: [b.ip6], labels: %{"app" => "myapp"}, ready: true)
    h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx))
    Harness.wait_for_full_mesh(ctx, [a.node, b.node])
    Harness.wait_for_hidden_peer(ctx, [a.node, b.node], h.node)
  end
end

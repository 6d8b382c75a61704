# Fail static against the Kubernetes API: broken watch streams, ERROR 410
# mid-stream, and stretches of 403, 500 and 429 answers never remove a member
# (libcluster drops everyone on a 403). clusterd keeps the mesh, retries with
# backoff or Retry-After, and picks up changes again once the API answers.
defmodule Clusterd.KubeFailStaticTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Harness, Pods}
  alias Clusterd.KubeFixture, as: K

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  defp assert_untouched(ctx, h, members, what) do
    assert Harness.full_mesh?(members),
           "#{what} cut links:\n" <>
             Harness.mesh_report(members) <> Harness.clusterd_logs_tail(ctx)

    refute Harness.clusterd_log(h) =~ "member left",
           "#{what} removed a member:\n" <> Harness.clusterd_logs_tail(ctx)

    assert Harness.running?(h)
  end

  defp watches(fx), do: Enum.count(K.requests(fx), &(&1["query"]["watch"] == "1"))

  # Faults on watches hit the streams open at that moment: wait for a new one.
  defp wait_new_watch(fx, before) do
    {:ok, _} = Harness.wait_until(20_000, fn -> watches(fx) > before end, 50)
    Process.sleep(200)
  end

  test "broken streams, 410 mid-stream, 403/500/429 stretches: mesh untouched, then recovered",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    fx = K.start!(ctx, host: net.gateway, tokens: ["tok"])
    K.service(fx, "myapp", %{"app" => "myapp"})
    sa = K.service_account!(fx, "tok")
    pods = for _ <- 1..4, do: Pods.start_pod!(ctx, net, "app", connect_all: false)
    [a, b, c, d] = pods

    for {p, n} <- Enum.with_index([a, b, c]),
        do: K.pod(fx, "myapp-#{n}", ip: p.ip, labels: %{"app" => "myapp"}, ready: true)

    members = [a.node, b.node, c.node]

    config =
      Harness.write_config(ctx,
        name: "clusterd@#{net.coordinator_ip}",
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: "app=myapp",
             kubernetes_node_basename: "app",
             kubernetes_service_account_path: sa,
             watch_timeout: 30,
             backoff_min: 200,
             backoff_max: 2000
           ]}
        ]
      )

    h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx), args: ["-v"])
    Harness.wait_for_full_mesh(ctx, members)
    Harness.wait_for_hidden_peer(ctx, members, h.node)

    # 1. the watch connection drops mid-stream: watched again from the last RV
    wait_new_watch(fx, 0)
    n = watches(fx)
    K.admin(fx, "break_watches")
    Harness.wait_for_log(ctx, h, ~r/watch stream broken; watching again/)
    assert_untouched(ctx, h, members, "a broken stream")
    wait_new_watch(fx, n)

    # 2. ERROR 410 inside a 200 stream: listed again
    K.admin(fx, "error410_watches")
    Harness.wait_for_log(ctx, h, ~r/watch ended; listing again.*410/)
    assert_untouched(ctx, h, members, "ERROR 410")

    # 3. RBAC taken away (403) for 12 s, over several retries
    K.fault(fx, status: 403, seconds: 12)
    K.admin(fx, "break_watches")
    Harness.wait_for_log(ctx, h, ~r/discovery failed; keeping the last good members.*403/)
    Process.sleep(4_000)
    assert_untouched(ctx, h, members, "403 Forbidden")
    Harness.wait_for_log(ctx, h, ~r/Kubernetes API answers again/, 30_000)
    assert_untouched(ctx, h, members, "403 Forbidden")

    # 4. the API server fails (500 + Retry-After: 1) for 8 s
    K.fault(fx, status: 500, seconds: 8, retry_after: 1)
    K.admin(fx, "break_watches")
    Harness.wait_for_log(ctx, h, ~r/discovery failed.*HTTP 500/)

    {:ok, _} =
      Harness.wait_until(20_000, fn ->
        length(Regex.scan(~r/Kubernetes API answers again/, Harness.clusterd_log(h))) >= 2
      end)

    assert_untouched(ctx, h, members, "500 Internal Error")

    # 5. 429 as text/plain with Retry-After: 2: the next request waits 2 s
    K.fault(fx, status: 429, count: 1, retry_after: 2, text: true)
    K.admin(fx, "break_watches")

    {:ok, _} =
      Harness.wait_until(20_000, fn ->
        length(Regex.scan(~r/Kubernetes API answers again/, Harness.clusterd_log(h))) >= 3
      end)

    reqs = K.requests(fx)
    i = Enum.find_index(reqs, &(&1["status"] == 429))
    assert i, "no 429 answered"
    gap = Enum.at(reqs, i + 1)["t"] - Enum.at(reqs, i)["t"]
    assert gap >= 1.9, "Retry-After: 2 not honoured: next request after #{gap} s"
    assert_untouched(ctx, h, members, "429")

    # A stale log proves nothing: the source must work again. A new pod joins.
    K.pod(fx, "myapp-3", ip: d.ip, labels: %{"app" => "myapp"}, ready: true)
    Harness.wait_for_full_mesh(ctx, members ++ [d.node])

    # ...and a pod that becomes not ready leaves: removal works again too.
    K.pod(fx, "myapp-0", ready: false)

    {:ok, _} =
      Harness.wait_until(20_000, fn ->
        Enum.all?([b.node, c.node, d.node], &Harness.not_peer?(&1, a.node))
      end)
  end

  test "an answer with nobody in it (a selector typo after a reload) removes nobody",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    fx = K.start!(ctx, host: net.gateway, tokens: ["tok"])
    sa = K.service_account!(fx, "tok")
    pods = for _ <- 1..3, do: Pods.start_pod!(ctx, net, "app", connect_all: false)

    for {p, n} <- Enum.with_index(pods),
        do: K.pod(fx, "myapp-#{n}", ip: p.ip, labels: %{"app" => "myapp"}, ready: true)

    members = Enum.map(pods, & &1.node)

    topology = fn selector ->
      [
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: selector,
             kubernetes_node_basename: "app",
             kubernetes_service_account_path: sa,
             kubernetes_ip_lookup_mode: "pods",
             backoff_min: 200,
             backoff_max: 2000
           ]}
        ],
        name: "clusterd@#{net.coordinator_ip}"
      ]
    end

    config = Harness.write_config(ctx, topology.("app=myapp"))
    h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx))
    Harness.wait_for_full_mesh(ctx, members)
    Harness.wait_for_hidden_peer(ctx, members, h.node)

    # A reload whose selector matches nothing (a typo): the answer is empty.
    ids = Harness.connection_ids(members)
    Harness.write_config(ctx, topology.("app=myap"))
    Harness.signal(h, "HUP")

    {:ok, _} =
      Harness.wait_until(20_000, fn ->
        Harness.clusterd_log(h) =~
          ~r/discovery failed; keeping the last good members.*empty answer/
      end)

    Process.sleep(2_000)
    assert_untouched(ctx, h, members, "a selector that matches nothing")
    assert Harness.connection_ids(members) == ids, "links were cut and remade"
  end
end

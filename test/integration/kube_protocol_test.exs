# The list+watch protocol against the API fixture: pagination with limit and
# continue (an expired token restarts the list in one piece), HTTP 410 on a
# watch relists, a selector exit arrives as DELETED, polling mode with cached
# resources, and the size cap. Members are named app@127.0.1.N and are not
# started: clusterd's log says who joined and left.
defmodule Clusterd.KubeProtocolTest do
  use ExUnit.Case, async: false

  alias Clusterd.Harness
  alias Clusterd.KubeFixture, as: K

  setup context do
    ctx = Harness.setup_test(context)
    fx = K.start!(ctx, tokens: ["tok"])
    K.service(fx, "myapp", %{"app" => "myapp"})
    sa = K.service_account!(fx, "tok")

    for i <- 1..5,
        do: K.pod(fx, "myapp-#{i}", ip: "127.0.1.#{i}", labels: %{"app" => "myapp"}, ready: true)

    {:ok, ctx: ctx, fx: fx, sa: sa}
  end

  defp start(ctx, fx, sa, extra) do
    config =
      Harness.write_config(ctx,
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: "app=myapp",
             kubernetes_node_basename: "app",
             kubernetes_service_account_path: sa,
             watch_timeout: 30,
             backoff_min: 100,
             backoff_max: 500
           ] ++ extra}
        ]
      )

    K.admin(fx, "reset_stats")
    Harness.start_clusterd(ctx, config, env: K.in_cluster_env(fx), args: ["-v"])
  end

  defp joined(ctx, h, ip),
    do: Harness.wait_for_log(ctx, h, ~r/member joined" topology=k8s node=app@#{Regex.escape(ip)}\b/)

  defp lists(fx), do: Enum.filter(K.requests(fx), &(&1["query"]["watch"] == nil))

  test "pods mode pages with limit and continue", %{ctx: ctx, fx: fx, sa: sa} do
    h = start(ctx, fx, sa, kubernetes_ip_lookup_mode: "pods", page_size: 2)
    for i <- 1..5, do: joined(ctx, h, "127.0.1.#{i}")
    pages = lists(fx)
    assert length(pages) == 3
    assert Enum.all?(pages, &(&1["query"]["limit"] == "2"))
    assert Enum.count(pages, &Map.has_key?(&1["query"], "continue")) == 2
    assert Enum.all?(pages, &(&1["query"]["labelSelector"] == "app=myapp"))
  end

  test "an expired continue token restarts the list in one piece", %{ctx: ctx, fx: fx, sa: sa} do
    K.settings(fx, %{"continue_ttl" => 0})
    h = start(ctx, fx, sa, kubernetes_ip_lookup_mode: "pods", page_size: 2)
    for i <- 1..5, do: joined(ctx, h, "127.0.1.#{i}")
    reqs = lists(fx)
    assert Enum.any?(reqs, &(&1["status"] == 410))
    last = List.last(reqs)
    assert last["status"] == 200 and not Map.has_key?(last["query"], "limit")
    refute Harness.clusterd_log(h) =~ "discovery failed"
  end

  test "HTTP 410 on a watch lists again", %{ctx: ctx, fx: fx, sa: sa} do
    h = start(ctx, fx, sa, [])
    joined(ctx, h, "127.0.1.5")
    # history compacted past everything clusterd saw, and the server answers
    # a too-old watch with HTTP 410 (not an ERROR event); the stream breaks
    K.admin(fx, "compact", %{"ahead" => 1})
    K.admin(fx, "watch_http410", %{"on" => true})
    K.admin(fx, "break_watches")
    Harness.wait_for_log(ctx, h, ~r/watch ended; listing again.*410/)
    {:ok, _} = Harness.wait_until(10_000, fn -> length(lists(fx)) >= 2 end)
    K.pod(fx, "myapp-6", ip: "127.0.1.6", labels: %{"app" => "myapp"}, ready: true)
    joined(ctx, h, "127.0.1.6")
    refute Harness.clusterd_log(h) =~ "member left"
  end

  test "pods mode: a pod leaving the selector arrives as DELETED and leaves",
       %{ctx: ctx, fx: fx, sa: sa} do
    h = start(ctx, fx, sa, kubernetes_ip_lookup_mode: "pods")
    joined(ctx, h, "127.0.1.3")
    K.pod(fx, "myapp-3", labels: %{"app" => "other"})
    Harness.wait_for_log(ctx, h, ~r/member left.*node=app@127\.0\.1\.3\b/)
    assert length(lists(fx)) == 1
  end

  test "kubernetes_watch false polls; cached resources list with resourceVersion=0",
       %{ctx: ctx, fx: fx, sa: sa} do
    h =
      start(ctx, fx, sa,
        kubernetes_watch: false,
        polling_interval: 300,
        kubernetes_use_cached_resources: true
      )

    joined(ctx, h, "127.0.1.1")
    {:ok, _} = Harness.wait_until(10_000, fn -> length(lists(fx)) >= 4 end)
    reqs = K.requests(fx)
    assert Enum.all?(reqs, &(&1["query"]["watch"] == nil))
    assert Enum.all?(reqs, &(&1["query"]["resourceVersion"] == "0"))
    # a change shows up at the next poll
    K.pod(fx, "myapp-2", ready: false)
    Harness.wait_for_log(ctx, h, ~r/member left.*node=app@127\.0\.1\.2\b/)
  end

  test "a reply larger than max_event_bytes fails the round; nothing joins from it",
       %{ctx: ctx, fx: fx, sa: sa} do
    h = start(ctx, fx, sa, max_event_bytes: 1024)
    Harness.wait_for_log(ctx, h, ~r/discovery failed.*larger than max_event_bytes/)
    refute Harness.clusterd_log(h) =~ "member joined"
  end

  test "SIGHUP mid-watch: the old client closes, the new one lists again, members kept",
       %{ctx: ctx, fx: fx, sa: sa} do
    h = start(ctx, fx, sa, [])
    joined(ctx, h, "127.0.1.5")
    Harness.signal(h, "HUP")
    Harness.wait_for_log(ctx, h, ~r/configuration reloaded/)
    {:ok, _} = Harness.wait_until(10_000, fn -> length(lists(fx)) >= 2 end)
    K.pod(fx, "myapp-6", ip: "127.0.1.6", labels: %{"app" => "myapp"}, ready: true)
    joined(ctx, h, "127.0.1.6")
    refute Harness.clusterd_log(h) =~ "member left"
    assert {:ok, 0} = Harness.stop_clusterd(h)
  end

  test "discover shows what the API returned and why each pod is in or out",
       %{ctx: ctx, fx: fx, sa: sa} do
    K.pod(fx, "myapp-2", ready: false)
    K.pod(fx, "myapp-3", terminating: true)
    K.pod(fx, "myapp-9", labels: %{"app" => "myapp"}, ready: false)

    config =
      Harness.write_config(ctx,
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: "app=myapp",
             kubernetes_node_basename: "app",
             kubernetes_ip_lookup_mode: "pods",
             kubernetes_service_account_path: sa
           ]}
        ]
      )

    r = Harness.run_cli(ctx, ["discover", "-c", config, "--json"], env: K.in_cluster_env(fx))
    assert r.status == 0, r.err
    t = Clusterd.JSON.decode!(r.out)["topologies"]["k8s"]
    assert t["members"] == ["app@127.0.1.1", "app@127.0.1.4", "app@127.0.1.5"]
    assert t["leaving"] == ["app@127.0.1.3"]
    ev = Enum.join(t["evidence"], "\n")
    assert ev =~ "GET /api/v1/namespaces/default/pods?labelSelector=app%3Dmyapp"
    assert ev =~ ~r/127\.0\.1\.2 \(pod myapp-2.*not ready: not a member/
    assert ev =~ ~r/127\.0\.1\.3 \(pod myapp-3.*terminating: app@127\.0\.1\.3 is leaving/
    assert ev =~ "pod myapp-9: no IP yet"
    assert ev =~ ~r/127\.0\.1\.1 \(pod myapp-1.*ready: member app@127\.0\.1\.1/

    # the API failing: exit 1 and the reason
    K.fault(fx, status: 403)
    r = Harness.run_cli(ctx, ["discover", "-c", config], env: K.in_cluster_env(fx))
    assert r.status == 1
    assert r.out =~ "FAILED" and r.out =~ "403 Forbidden"
  end
end

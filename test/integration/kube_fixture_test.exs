# The Kubernetes API fixture is checked by the real kubectl (1.32): it lists,
# pages, watches and renders errors the way kubectl expects from an API
# server, so the fixture that clusterd's Kubernetes tests rely on cannot
# drift into a toy.
defmodule Clusterd.KubeFixtureTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Harness, JSON}
  alias Clusterd.KubeFixture, as: K

  setup context do
    ctx = Harness.setup_test(context)
    fx = K.start!(ctx)
    K.service(fx, "myapp", %{"app" => "myapp"})

    for {n, ready} <- [{0, true}, {1, true}, {2, false}] do
      K.pod(fx, "myapp-#{n}",
        ip: "10.244.1.#{10 + n}",
        labels: %{"app" => "myapp"},
        ready: ready
      )
    end

    K.pod(fx, "other", ip: "10.244.9.9", labels: %{"app" => "other"}, ready: true)
    kc = K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"))
    {:ok, ctx: ctx, fx: fx, kc: kc}
  end

  defp kubectl(fx, kc, args), do: K.run_kubectl(fx, kc, ["--context", "test" | args])

  test "kubectl lists pods, endpoints and endpointslices with selectors", %{fx: fx, kc: kc} do
    {out, 0} = kubectl(fx, kc, ["get", "pods", "-o", "json"])
    names = JSON.decode!(out)["items"] |> Enum.map(& &1["metadata"]["name"]) |> Enum.sort()
    assert names == ["myapp-0", "myapp-1", "myapp-2", "other"]

    {out, 0} = kubectl(fx, kc, ["get", "pods", "-l", "app=myapp"])
    assert out =~ "myapp-0" and out =~ "myapp-2"
    refute out =~ "other"

    {out, 0} =
      kubectl(fx, kc, [
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=myapp",
        "-o",
        "json"
      ])

    [slice] = JSON.decode!(out)["items"]
    assert slice["addressType"] == "IPv4"

    conds =
      for ep <- slice["endpoints"], into: %{}, do: {hd(ep["addresses"]), ep["conditions"]["ready"]}

    assert conds == %{"10.244.1.10" => true, "10.244.1.11" => true, "10.244.1.12" => false}

    {out, 0} = kubectl(fx, kc, ["get", "endpoints", "myapp", "-o", "json"])
    [subset] = JSON.decode!(out)["subsets"]
    assert length(subset["addresses"]) == 2
    assert [%{"ip" => "10.244.1.12"}] = subset["notReadyAddresses"]

    # What kubectl sent: the bearer token, a URL-encoded selector, limit=500.
    reqs = K.requests(fx)
    assert Enum.all?(reqs, &(&1["auth"] == "Bearer s3cr3t"))

    assert Enum.any?(reqs, fn r ->
             r["path"] =~ "endpointslices" and
               r["query"]["labelSelector"] == "kubernetes.io/service-name=myapp" and
               r["query"]["limit"] == "500"
           end)
  end

  test "kubectl pages with --chunk-size through continue tokens", %{fx: fx, kc: kc} do
    {out, 0} = kubectl(fx, kc, ["get", "pods", "--chunk-size=1", "-o", "name"])
    assert out |> String.split() |> Enum.sort() ==
             ~w(pod/myapp-0 pod/myapp-1 pod/myapp-2 pod/other)

    pages =
      K.requests(fx)
      |> Enum.filter(&(&1["path"] == "/api/v1/namespaces/default/pods"))

    assert length(pages) == 4
    assert Enum.count(pages, &Map.has_key?(&1["query"], "continue")) == 3
    assert Enum.all?(pages, &(&1["query"]["limit"] == "1"))

    # An expired continue token is 410 Expired with a Status body.
    K.settings(fx, %{"continue_ttl" => 0})
    {out, status} = kubectl(fx, kc, ["get", "pods", "--chunk-size=1", "-o", "name"])
    assert status != 0
    assert out =~ "Expired" and out =~ "continue parameter is too old"
  end

  test "kubectl watches: events arrive on a chunked stream", %{ctx: ctx, fx: fx, kc: kc} do
    out_file = Path.join(ctx.dir, "watch.out")

    watcher =
      Task.async(fn ->
        K.run_kubectl(
          fx,
          kc,
          ["--context", "test", "get", "pods", "-l", "app=myapp", "-w", "--output-watch-events"],
          8
        )
      end)

    # Wait until the watch is open, then change things.
    {:ok, _} =
      Harness.wait_until(10_000, fn ->
        Enum.any?(K.requests(fx), &(&1["query"]["watch"] == "true"))
      end)

    K.pod(fx, "myapp-3", ip: "10.244.1.13", labels: %{"app" => "myapp"}, ready: true)
    K.pod(fx, "myapp-0", terminating: true)
    K.delete_pod(fx, "myapp-1")
    # a pod leaving the selector is a DELETED event for this watch
    K.pod(fx, "myapp-2", labels: %{"app" => "gone"})

    {out, _} = Task.await(watcher, 15_000)
    File.write!(out_file, out)
    assert out =~ ~r/ADDED\s+myapp-3/
    assert out =~ ~r/MODIFIED\s+myapp-0/
    assert out =~ ~r/DELETED\s+myapp-1/
    assert out =~ ~r/DELETED\s+myapp-2/

    watch = Enum.find(K.requests(fx), &(&1["query"]["watch"] == "true"))
    assert watch["query"]["resourceVersion"] =~ ~r/^\d+$/
  end

  test "kubectl renders 401, 403, 500 and 429 Status bodies", %{ctx: ctx, fx: fx, kc: kc} do
    bad = K.kubeconfig!(fx, Path.join(ctx.dir, "bad"), user: %{"token" => "wrong"})
    {out, s} = kubectl(fx, bad, ["get", "pods"])
    assert s != 0 and out =~ "You must be logged in to the server"

    K.fault(fx, status: 403, match: "/pods$", count: 1)
    {out, s} = kubectl(fx, kc, ["get", "pods"])
    assert s != 0 and out =~ "Error from server (Forbidden)"

    K.fault(fx, status: 500, match: "/endpoints$", count: 1)
    {out, s} = kubectl(fx, kc, ["get", "endpoints"])
    assert s != 0 and out =~ "Error from server (InternalError)"

    # 429 as text/plain with Retry-After: kubectl retries, then succeeds.
    K.fault(fx, status: 429, match: "/pods$", count: 2, retry_after: 1, text: true)
    {out, 0} = kubectl(fx, kc, ["get", "pods", "-o", "name"])
    assert out =~ "pod/myapp-0"
    tries = Enum.count(K.requests(fx), &(&1["path"] == "/api/v1/namespaces/default/pods"))
    assert tries >= 4, "expected 429 retries, saw #{tries} list requests"

    # Without the CA the server is not trusted.
    noca = K.kubeconfig!(fx, Path.join(ctx.dir, "noca"), cluster: %{})
    {out, s} = kubectl(fx, noca, ["get", "pods"])
    assert s != 0 and out =~ "certificate signed by unknown authority"
  end

  test "a watch from a compacted resourceVersion gets an ERROR 410 event", %{fx: fx} do
    K.admin(fx, "compact")

    {out, 0} =
      System.cmd("curl", [
        "-sN",
        "--max-time",
        "5",
        "--cacert",
        fx.ca,
        "-H",
        "Authorization: Bearer s3cr3t",
        "#{fx.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion=1001&timeoutSeconds=2"
      ])

    [line] = String.split(out, "\n", trim: true)
    ev = JSON.decode!(line)
    assert ev["type"] == "ERROR"
    assert ev["object"]["code"] == 410
    assert ev["object"]["reason"] == "Expired"

    # timeoutSeconds ends the stream cleanly, with bookmarks when asked for.
    K.settings(fx, %{"bookmark_interval" => 0.3})
    rv = K.admin(fx, "stats")["rv"]

    {out, 0} =
      System.cmd("curl", [
        "-sN",
        "--max-time",
        "5",
        "--cacert",
        fx.ca,
        "-H",
        "Authorization: Bearer s3cr3t",
        "#{fx.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion=#{rv}&allowWatchBookmarks=true&timeoutSeconds=1"
      ])

    types = out |> String.split("\n", trim: true) |> Enum.map(&JSON.decode!(&1)["type"])
    assert types != [] and Enum.all?(types, &(&1 == "BOOKMARK"))
  end
end

# The cases of bench/kube_bench.exs (loaded once the observer runs).

defmodule Clusterd.KubeBench do
  use ExUnit.Case, async: false

  alias Clusterd.{Harness, Pods}
  alias Clusterd.KubeFixture, as: K

  @out System.get_env("BENCH_OUT", "/tmp/kube-bench.md")
  @load_seconds String.to_integer(System.get_env("BENCH_KUBE_SECONDS", "60"))
  @rounds String.to_integer(System.get_env("BENCH_KUBE_ROUNDS", "7"))

  setup context, do: {:ok, ctx: Harness.setup_test(context)}

  defp record(key, value) do
    :persistent_term.put({__MODULE__, key}, value)
  end

  def fetch(key), do: :persistent_term.get({__MODULE__, key}, nil)

  test "api load for 100 pods", %{ctx: ctx} do
    fx = K.start!(ctx, tokens: ["tok"])
    K.service(fx, "myapp", %{"app" => "myapp"})

    for i <- 1..100,
        do: K.pod(fx, "myapp-#{i}", ip: "127.0.2.#{i}", labels: %{"app" => "myapp"}, ready: true)

    sa = K.service_account!(fx, "tok")

    config =
      Harness.write_config(ctx,
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: "app=myapp",
             kubernetes_node_basename: "app",
             kubernetes_service_account_path: sa,
             # client-go picks 300-600 s; 45 s is the middle, compressed 10x
             watch_timeout: 45
           ]}
        ]
      )

    K.admin(fx, "reset_stats")
    h = Harness.start_clusterd(ctx, config, env: K.in_cluster_env(fx))
    Harness.wait_for_log(ctx, h, ~r/member joined" topology=k8s node=app@127\.0\.2\.100/)

    # churn: one pod change every 2 s (300 in 10 minutes, compressed)
    t_end = System.monotonic_time(:millisecond) + @load_seconds * 1000

    churn =
      Stream.iterate(0, &(&1 + 1))
      |> Enum.reduce_while(0, fn i, n ->
        if System.monotonic_time(:millisecond) >= t_end do
          {:halt, n}
        else
          pod = rem(i, 100) + 1
          K.pod(fx, "myapp-#{pod}", ready: rem(div(i, 100), 2) == 1)
          Process.sleep(2000)
          {:cont, n + 1}
        end
      end)

    reqs = K.requests(fx)
    Harness.stop_clusterd(h)
    lists = Enum.filter(reqs, &(&1["query"]["watch"] == nil))
    watches = Enum.filter(reqs, &(&1["query"]["watch"] != nil))
    bytes = Enum.sum(Enum.map(reqs, &(&1["bytes"] || 0)))
    list_bytes_ours = Enum.sum(Enum.map(lists, &(&1["bytes"] || 0)))
    watch_bytes = Enum.sum(Enum.map(watches, &(&1["bytes"] || 0)))
    events = Enum.sum(Enum.map(watches, &(&1["events"] || 0)))

    # one libcluster poll: GET endpoints?labelSelector=app=myapp (all 100 pods)
    {body, 0} =
      System.cmd("curl", [
        "-s",
        "--cacert",
        fx.ca,
        "-H",
        "Authorization: Bearer tok",
        "#{fx.url}/api/v1/namespaces/default/endpoints?labelSelector=app%3Dmyapp"
      ])

    record(:load, %{
      seconds: @load_seconds,
      lists: length(lists),
      watches: length(watches),
      requests: length(reqs),
      bytes: bytes,
      list_bytes_ours: list_bytes_ours,
      watch_bytes: watch_bytes,
      events: events,
      churn: churn,
      list_bytes: byte_size(body)
    })
  end

  defp median(l), do: Enum.at(Enum.sort(l), div(length(l), 2))

  test "watch event to member meshed", %{ctx: ctx} do
    net = Pods.network!(ctx)
    fx = K.start!(ctx, host: net.gateway, tokens: ["tok"])
    K.service(fx, "myapp", %{"app" => "myapp"})
    sa = K.service_account!(fx, "tok")
    pods = for _ <- 1..(3 + @rounds), do: Pods.start_pod!(ctx, net, "app", connect_all: false)
    {base, extra} = Enum.split(pods, 3)

    for {p, i} <- Enum.with_index(base),
        do: K.pod(fx, "p#{i}", ip: p.ip, labels: %{"app" => "myapp"}, ready: true)

    config =
      Harness.write_config(ctx,
        name: "clusterd@#{net.coordinator_ip}",
        topologies: [
          {"k8s", "kubernetes",
           [
             kubernetes_selector: "app=myapp",
             kubernetes_node_basename: "app",
             kubernetes_service_account_path: sa
           ]}
        ]
      )

    h = Pods.start_clusterd!(ctx, net, config, env: K.in_cluster_env(fx))
    members = Enum.map(base, & &1.node)
    Harness.wait_for_full_mesh(ctx, members)
    Harness.wait_for_hidden_peer(ctx, members, h.node)

    {joins, _} =
      Enum.map_reduce(Enum.with_index(extra), members, fn {p, i}, acc ->
        t0 = System.monotonic_time(:microsecond)
        K.pod(fx, "x#{i}", ip: p.ip, labels: %{"app" => "myapp"}, ready: true)
        all = [p.node | acc]
        {:ok, _} = Harness.wait_until(20_000, fn -> Harness.full_mesh?(all) end, 1)
        {(System.monotonic_time(:microsecond) - t0) / 1000, all}
      end)

    leaves =
      for {_p, i} <- Enum.with_index(extra) do
        p = Enum.at(extra, i)
        others = Enum.map(base, & &1.node)
        t0 = System.monotonic_time(:microsecond)
        K.pod(fx, "x#{i}", ready: false)

        {:ok, _} =
          Harness.wait_until(20_000, fn -> Enum.all?(others, &Harness.not_peer?(&1, p.node)) end, 1)

        (System.monotonic_time(:microsecond) - t0) / 1000
      end

    # the floor: one admin call alone (a curl process and a TLS handshake)
    floor =
      for _ <- 1..5 do
        t0 = System.monotonic_time(:microsecond)
        K.settings(fx, %{})
        (System.monotonic_time(:microsecond) - t0) / 1000
      end

    record(:latency, %{
      admin_median: median(floor),
      rounds: length(joins),
      join_median: median(joins),
      join_max: Enum.max(joins),
      leave_median: median(leaves),
      leave_max: Enum.max(leaves)
    })
  end
end

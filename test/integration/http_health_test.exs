# /healthz and /readyz (INTERFACE.md): /readyz is 503 until every
# topology's discovery has answered successfully once, then 200, and stays
# 200 through later failures (fail static). Metrics across SIGHUP reloads,
# good and bad.
defmodule Clusterd.HttpHealthTest do
  use ExUnit.Case, async: false
  alias Clusterd.{HTTP, Prometheus}
  alias Clusterd.Harness, as: H
  import Clusterd.HTTP.TestHelpers

  setup context, do: {:ok, H.setup_test(context)}

  test "/readyz flips to 200 when the discovery answers for the first time", ctx do
    hosts_file = Path.join(ctx.dir, "hosts.erlang")
    [n1, n2] = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)

    topo = [
      {"hosts", "Cluster.Strategy.ErlangHosts", [hosts_file: hosts_file, polling_interval: 300]}
    ]

    {_h, port, _} = start_with_http(ctx, topologies: topo)

    # The hosts file does not exist yet: every round fails.
    wait_metrics(ctx, port, "failed rounds", fn m ->
      v(m, "clusterd_discovery_errors_total", %{topology: "hosts"}) >= 2.0
    end)

    {:ok, r} = HTTP.get(port, "/readyz")
    assert r.status == 503
    assert r.body =~ "'hosts'"
    assert {:ok, %{status: 200, body: "ok\n"}} = HTTP.get(port, "/healthz")
    {:ok, m} = HTTP.get(port, "/metrics")
    assert v(Prometheus.parse!(m.body), "clusterd_topology_ready", %{topology: "hosts"}) == 0.0

    File.write!(hosts_file, "'127.0.0.1'.\n")

    assert {:ok, _} =
             H.wait_until(20_000, fn ->
               match?({:ok, %{status: 200, body: "ready\n"}}, HTTP.get(port, "/readyz"))
             end),
           "/readyz stayed 503 after the discovery answered\n" <> H.clusterd_logs_tail(ctx)

    H.wait_for_full_mesh(ctx, [n1, n2])

    wait_metrics(ctx, port, "the topology ready", fn m ->
      v(m, "clusterd_topology_ready", %{topology: "hosts"}) == 1.0 and
        v(m, "clusterd_topology_members", %{topology: "hosts"}) == 2.0
    end)

    # A later failure keeps it ready (fail static): the members are known.
    File.rm!(hosts_file)

    errors =
      v(
        wait_metrics(ctx, port, "any", fn _ -> true end),
        "clusterd_discovery_errors_total",
        %{topology: "hosts"}
      )

    wait_metrics(ctx, port, "new failed rounds", fn m ->
      v(m, "clusterd_discovery_errors_total", %{topology: "hosts"}) > errors and
        v(m, "clusterd_topology_discovery_ok", %{topology: "hosts"}) == 0.0
    end)

    assert {:ok, %{status: 200}} = HTTP.get(port, "/readyz")
    refute_cookie(ctx, [r, m])
  end

  test "metrics across SIGHUP: a good reload adds and removes topologies, a bad one is counted and changes nothing",
       ctx do
    [n1, n2, n3] = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    a = {"a", "Cluster.Strategy.Epmd", [hosts: ["#{n1}", "#{n2}"]]}
    b = {"b", "Cluster.Strategy.Epmd", [hosts: ["#{n2}", "#{n3}"]]}
    {h, port, config} = start_with_http(ctx, topologies: [a])
    H.wait_for_full_mesh(ctx, [n1, n2])

    m =
      wait_metrics(ctx, port, "topology a meshed", fn m ->
        v(m, "clusterd_links_seen") == 1.0
      end)

    assert Prometheus.series(m, "clusterd_topology_members") |> Enum.map(& &1["topology"]) == [
             "a"
           ]

    assert v(m, "clusterd_config_reloads_total", %{result: "ok"}) == 0.0
    ids = H.connection_ids([n1, n2])

    # Good: topology b added.
    write = fn topologies ->
      H.write_config(ctx, topologies: topologies)
      File.write!(config, File.read!(config) <> http())
    end

    write.([a, b])
    H.signal(h, "HUP")

    wait_metrics(ctx, port, "topology b added", fn m ->
      v(m, "clusterd_config_reloads_total", %{result: "ok"}) == 1.0 and
        v(m, "clusterd_topology_members", %{topology: "b"}) == 2.0 and
        v(m, "clusterd_links_seen") == 2.0 and
        v(m, "clusterd_config_last_reload_successful") == 1.0
    end)

    H.wait_for_full_mesh(ctx, [n2, n3])
    assert {:ok, %{status: 200}} = HTTP.get(port, "/readyz")
    assert H.connection_ids([n1, n2]) == ids, "the n1-n2 link was dropped by the reload"

    # Bad: rejected, counted, nothing else changes.
    File.write!(config, File.read!(config) <> "bogus_key: 1\n")
    H.signal(h, "HUP")

    m =
      wait_metrics(ctx, port, "the rejected reload", fn m ->
        v(m, "clusterd_config_reloads_total", %{result: "rejected"}) == 1.0 and
          v(m, "clusterd_config_last_reload_successful") == 0.0
      end)

    assert Enum.sort(
             Enum.map(Prometheus.series(m, "clusterd_topology_members"), & &1["topology"])
           ) ==
             ["a", "b"]

    assert v(m, "clusterd_config_reloads_total", %{result: "ok"}) == 1.0

    # Good again: topology a removed.
    write.([b])
    H.signal(h, "HUP")

    m =
      wait_metrics(ctx, port, "topology a removed", fn m ->
        v(m, "clusterd_config_reloads_total", %{result: "ok"}) == 2.0 and
          Enum.map(Prometheus.series(m, "clusterd_topology_members"), & &1["topology"]) == ["b"]
      end)

    assert v(m, "clusterd_config_last_reload_successful") == 1.0
    assert v(m, "clusterd_topology_members", %{topology: "b"}) == 2.0
    assert {:ok, %{status: 200}} = HTTP.get(port, "/readyz")
    assert H.running?(h)
  end
end

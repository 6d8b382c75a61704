# The HTTP endpoint (http.listen): /metrics in Prometheus text format follows
# a real mesh as it changes, /healthz answers while the loop runs, and no
# response ever carries the cookie (INTERFACE.md, "Metrics and health").
defmodule Clusterd.HttpMetricsTest do
  use ExUnit.Case, async: false
  alias Clusterd.{HTTP, Prometheus}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  import Clusterd.HTTP.TestHelpers

  test "metrics scraped while members join, a link is cut and healed, and a member leaves",
       ctx do
    [n1, n2] = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    topo = [{"local", "Cluster.Strategy.LocalEpmd", [polling_interval: 500]}]
    {h, port, _} = start_with_http(ctx, topologies: topo)

    m =
      wait_metrics(ctx, port, "2 members fully meshed", fn m ->
        v(m, "clusterd_topology_members", %{topology: "local"}) == 2.0 and
          v(m, "clusterd_links_seen") == 1.0 and v(m, "clusterd_full_mesh") == 1.0
      end)

    H.wait_for_full_mesh(ctx, [n1, n2])
    assert m.types["clusterd_reconcile_duration_seconds"] == "histogram"
    assert m.types["clusterd_rpcs_total"] == "counter"
    assert v(m, "clusterd_reconcile_duration_seconds_count") > 0
    assert v(m, "clusterd_rpcs_total", %{result: "ok"}) > 0
    assert v(m, "clusterd_topology_ready", %{topology: "local"}) == 1.0
    assert v(m, "clusterd_discovery_errors_total", %{topology: "local"}) == 0.0
    assert v(m, "clusterd_members_unreachable") == 0.0
    assert v(m, "clusterd_member_links", %{state: "up"}) == 2.0

    assert %{"strategy" => "Cluster.Strategy.LocalEpmd"} =
             hd(Prometheus.series(m, "clusterd_topology_members"))

    for name <- ~w(clusterd_members clusterd_links_missing clusterd_heals_total
                   clusterd_connects_total clusterd_node_events_total clusterd_resyncs_unchanged_total
                   clusterd_actions_total
                   clusterd_config_reloads_total clusterd_build_info) do
      assert Map.has_key?(m.types, name), "no #{name} family"
    end

    # A third member joins: members and links follow.
    n3 = H.start_erl(ctx, "n3", connect_all: false)

    wait_metrics(ctx, port, "3 members and 3 links", fn m ->
      v(m, "clusterd_topology_members", %{topology: "local"}) == 3.0 and
        v(m, "clusterd_links_seen") == 3.0 and v(m, "clusterd_links_missing") == 0.0
    end)

    # A cut link is healed: the heal is counted.
    heals =
      v(
        wait_metrics(ctx, port, "a full mesh", &(v(&1, "clusterd_full_mesh") == 1.0)),
        "clusterd_heals_total"
      )

    assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true

    wait_metrics(ctx, port, "one more heal", fn m ->
      v(m, "clusterd_heals_total") > heals and v(m, "clusterd_full_mesh") == 1.0
    end)

    H.wait_for_full_mesh(ctx, [n1, n2, n3])

    # A member leaves (gone from EPMD): members and links shrink.
    H.kill_node(ctx, n3)

    wait_metrics(ctx, port, "n3 gone", fn m ->
      v(m, "clusterd_topology_members", %{topology: "local"}) == 2.0 and
        v(m, "clusterd_links_seen") == 1.0 and v(m, "clusterd_members") == 2.0
    end)

    responses =
      for path <- ~w(/metrics /healthz /readyz /nope /), do: elem(HTTP.get(port, path), 1)

    assert [%{status: 200}, %{status: 200}, %{status: 200}, %{status: 404}, %{status: 404}] =
             responses

    assert hd(responses).headers["content-type"] =~ "text/plain; version=0.0.4"
    {:ok, post} = HTTP.request(port, "/metrics", "POST")
    assert post.status == 405
    refute_cookie(ctx, [post | responses])
    assert {:ok, 0} = H.stop_clusterd(h)
    refute String.contains?(H.clusterd_log(h), ctx.cookie)
  end

  test "bounded: connections over max_connections wait until idle ones are closed after connection_timeout, and the loop keeps healing meanwhile",
       ctx do
    members = [n1, n2] = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)

    {_h, port, _} =
      start_with_http(
        ctx,
        [hosts: members],
        http() <> "  max_connections: 2\n  connection_timeout: 5\n"
      )

    H.wait_for_full_mesh(ctx, members)

    # Two clients that connect and never send a request hold every slot.
    idle =
      for _ <- 1..2 do
        {:ok, s} = :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false])
        s
      end

    Process.sleep(300)
    third = Task.async(fn -> HTTP.request(port, "/healthz", "GET", 30_000) end)
    assert Task.yield(third, 1_000) == nil, "a third connection was served at once"

    # The event loop is not held up by the HTTP side: a cut is still healed.
    assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true
    H.wait_for_full_mesh(ctx, members)

    # The server closes the idle connections after the timeout, and the
    # waiting request is served.
    for s <- idle, do: assert({:error, :closed} = :gen_tcp.recv(s, 0, 20_000))
    assert {:ok, %{status: 200}} = Task.await(third, 30_000)
  end

  test "an address in use is a start-up error (exit 2) naming the address", ctx do
    {:ok, busy} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, busy_port} = :inet.port(busy)
    members = H.start_erl_nodes(ctx, ~w(n1), connect_all: false)
    config = H.write_config(ctx, hosts: members)
    File.write!(config, File.read!(config) <> "http:\n  listen: \"127.0.0.1:#{busy_port}\"\n")
    h = H.start_clusterd(ctx, config)
    assert {:ok, 2} = H.wait_exit(h, 15_000)
    assert H.clusterd_log(h) =~ "127.0.0.1:#{busy_port}"
    :gen_tcp.close(busy)
  end
end

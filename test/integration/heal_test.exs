# A cut link is healed from the members' node events, not from the safety-net
# poll: the poll is set to 600 s and the heal must come within seconds.
defmodule Clusterd.HealTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  # The event path must heal well before the 600 s poll; 10 s leaves room for a
  # loaded machine and still proves the point.
  @heal_deadline 10_000

  setup context, do: {:ok, H.setup_test(context)}

  test "disconnect_node on a member (kernel defaults: prevent_overlapping_partitions may cut more links) is healed, three times",
       ctx do
    [n1, n2 | _] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5))
    start_and_mesh(ctx, members)
    H.install_link_monitors(members)

    for round <- 1..3 do
      assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true
      assert_healed(ctx, members, "round #{round}: n1 disconnected n2")
    end

    events = H.link_events(members)

    assert length(for {^n2, _} <- events[n1], do: 1) >= 3,
           "n1 never saw n2 go down: #{inspect(events)}"
  end

  test "with connect_all false only clusterd can heal: one cut link, then a member cut from all its peers",
       ctx do
    [n1, n2, n3 | _] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5), connect_all: false)
    start_and_mesh(ctx, members)

    assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true
    assert_healed(ctx, members, "n1 disconnected n2")

    for peer <- members -- [n3], do: :erpc.call(n3, :erlang, :disconnect_node, [peer])
    assert_healed(ctx, members, "n3 disconnected every peer")
  end

  test "the safety-net poll catches a drift: a forwarder whose reports differ from nodes() sends the whole list",
       ctx do
    [n1 | _] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3))
    h = start_and_mesh(ctx, members)
    config = Path.join(ctx.dir, "clusterd.yaml")
    ghost = :"ghost@127.0.0.1"

    status = fn ->
      r = H.run_cli(ctx, ["status", "-c", config, "--json"])
      r.status == 0 and Clusterd.JSON.decode!(r.out)
    end

    sees = fn -> (s = status.()) && s["links"]["#{n1}"]["sees"] end

    # n1's forwarder reports a nodeup for a node n1 is not connected to:
    # clusterd's view of n1 now differs from n1's real nodes().
    assert [{fw, _}] = H.forwarders(n1, h.node)
    send(fw, {:nodeup, ghost, []})

    assert {:ok, _} = H.wait_until(10_000, fn -> (s = sees.()) && "#{ghost}" in s end),
           "the injected nodeup never reached clusterd\n" <> H.clusterd_logs_tail(ctx)

    # The poll is 600 s: turn it to 300 ms. The forwarder compares its real
    # nodes() with what it reported (which includes the ghost), finds them
    # different and sends the whole list: the ghost leaves clusterd's view.
    H.write_config(ctx, hosts: members, poll_interval: 300)
    H.signal(h, "HUP")

    assert {:ok, _} =
             H.wait_until(10_000, fn ->
               (s = sees.()) && "#{ghost}" not in s and length(s) == length(members) - 1
             end),
           "the poll did not replace the drifted view\n" <> H.clusterd_logs_tail(ctx)

    # Once the views agree, polls are answered "unchanged" (not with the
    # list), and that keeps every forwarder: no restart over several polls.
    assert {:ok, _} =
             H.wait_until(10_000, fn ->
               (s = status.()) && s["stats"]["resyncs_unchanged"] >= 2 * length(members)
             end),
           "no poll was answered unchanged\n" <> H.clusterd_logs_tail(ctx)

    assert [{^fw, _}] = H.forwarders(n1, h.node)
    refute H.clusterd_log(h) =~ "did not answer"
    assert H.full_mesh?(members)
  end

  defp start_and_mesh(ctx, members) do
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members, poll_interval: 600_000))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    h
  end

  defp assert_healed(ctx, members, what) do
    case H.wait_until(@heal_deadline, fn -> H.full_mesh?(members) end, 50) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk("""
        #{what}: not healed within #{@heal_deadline} ms (poll_interval is 600000, so only node events can heal)
        missing: #{inspect(H.missing_links(members))}
        #{H.mesh_report(members)}
        #{H.clusterd_logs_tail(ctx)}
        """)
    end
  end
end

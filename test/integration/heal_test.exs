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

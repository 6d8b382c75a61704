# clusterd can die and come back (or run twice) without the cluster noticing:
# no member-to-member link drops, the mesh stays full.
defmodule Clusterd.CoordinatorRestartTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "SIGKILL clusterd and start it again with the same config: no member link drops", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5))
    config = H.write_config(ctx, hosts: members)
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    H.install_link_monitors(members)
    ids = H.connection_ids(members)
    old_forwarders = for m <- members, {p, _} <- H.forwarders(m, h.node), do: {m, p}

    assert {:ok, _} = H.stop_clusterd(h, "KILL")
    wait_gone_from_members(ctx, members, h.node)

    assert H.full_mesh?(members),
           "the mesh broke when clusterd was killed:\n" <> H.mesh_report(members)

    h2 = H.start_clusterd(ctx, config)
    H.wait_for_hidden_peer(ctx, members, h2.node)
    # Let the new instance run several reconcile rounds (poll_interval 2 s).
    Process.sleep(6_000)
    assert H.running?(h2), "restarted clusterd exited:\n" <> H.clusterd_logs_tail(ctx)

    assert_no_harm(ctx, members, ids)

    # The killed instance's forwarders died with its connections.
    alive =
      for {m, p} <- old_forwarders, :erpc.call(m, :erlang, :is_process_alive, [p]), do: {m, p}

    assert alive == [], "forwarders of the killed clusterd are still alive: #{inspect(alive)}"
  end

  test "a second clusterd (another name) on the same topology at the same time does no harm",
       ctx do
    [n1, n2 | _] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5))
    h1 = H.start_clusterd(ctx, H.write_config(ctx, hosts: members))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h1.node)

    H.install_link_monitors(members)
    ids = H.connection_ids(members)

    config2 =
      H.write_config(ctx, file: "clusterd2.yaml", name: "clusterd2@127.0.0.1", hosts: members)

    h2 = H.start_clusterd(ctx, config2, label: "clusterd2", node: :"clusterd2@127.0.0.1")
    H.wait_for_hidden_peer(ctx, members, h2.node)
    Process.sleep(6_000)

    assert H.running?(h1) and H.running?(h2), "a clusterd exited:\n" <> H.clusterd_logs_tail(ctx)
    assert_no_harm(ctx, members, ids)

    # Both heal a cut together without fighting, and the mesh then stays put.
    assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true
    H.wait_for_full_mesh(ctx, members)
    H.install_link_monitors(members)
    Process.sleep(4_000)
    assert H.full_mesh?(members), H.mesh_report(members)
    events = H.link_events(members)

    assert Enum.all?(events, fn {_, e} -> e == [] end),
           "links flapped after the heal: #{inspect(events)}"
  end

  defp wait_gone_from_members(ctx, members, cnode) do
    assert {:ok, _} =
             H.wait_until(15_000, fn -> Enum.all?(members, &H.not_peer?(&1, cnode, :hidden)) end),
           "#{cnode} still connected to members after it died\n" <> H.clusterd_logs_tail(ctx)
  end

  defp assert_no_harm(ctx, members, ids) do
    assert H.full_mesh?(members),
           "not a full mesh:\n#{H.mesh_report(members)}\n#{H.clusterd_logs_tail(ctx)}"

    events = H.link_events(members)
    assert Enum.all?(events, fn {_, e} -> e == [] end), "member links dropped: #{inspect(events)}"
    now = H.connection_ids(members)
    changed = for {pair, id} <- ids, Map.get(now, pair) != id, do: pair
    assert changed == [], "connections replaced (new connection ids): #{inspect(changed)}"
  end
end

# Visible mode (`node.visibility: visible`): clusterd is a published node in
# every member's nodes(), and the members stay healthy: global:sync/0 returns,
# global locks and names work, pg works, a member that streams to clusterd
# keeps its connection (clusterd writes its own ticks), and stopping clusterd
# leaves the members' mesh and global alone. The same suite runs in hidden
# mode, where clusterd is absent from nodes().
defmodule Clusterd.VisibleTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  # net_ticktime (s) of the members: small, so that streaming for
  # 4 x net_ticktime keeps the test short.
  @ticktime 4
  # Generous bound for calls that hang forever when global waits for a node
  # that never answers (they return in milliseconds when healthy).
  @bound 10_000

  setup context, do: {:ok, H.setup_test(context)}

  test "visible: in every member's nodes(); global, locks, names, pg and ticks stay healthy; " <>
         "stopping clusterd leaves the mesh and global intact",
       ctx do
    suite(ctx, :visible)
  end

  test "hidden: the same suite, with clusterd absent from nodes()", ctx do
    suite(ctx, :hidden)
  end

  test "SIGHUP with a changed visibility keeps the running one and says a restart is needed",
       ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2), args: ["-kernel", "start_pg", "true"])
    config = H.write_config(ctx, hosts: members, node_extra: ["  visibility: hidden"])
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    H.write_config(ctx, hosts: members, node_extra: ["  visibility: visible"])
    H.signal(h, "HUP")
    H.wait_for_log(ctx, h, ~r/visibility changes only with a restart.*running=hidden.*configured=visible/)
    H.wait_for_log(ctx, h, ~r/configuration reloaded/)

    for m <- members do
      assert H.not_peer?(m, h.node), "clusterd became visible on #{m} without a restart"
      assert H.peer?(m, h.node, :hidden)
    end

    assert H.running?(h)
  end

  test "a member that connects to clusterd first becomes clusterd's link to it", ctx do
    # A visible clusterd is a peer that members' code may send to, and the
    # BEAM then connects to it. The BEAM allows one connection per pair, so
    # clusterd's own connect would be refused ('alive'): it adopts the
    # member's connection instead.
    [n1, n2] = members = H.start_erl_nodes(ctx, ~w(n1 n2))
    n3 = H.node_name("n3")

    yaml =
      H.config_yaml(ctx, hosts: members ++ [n3], node_extra: ["  visibility: visible"])
      |> String.replace("reconcile:\n", "reconcile:\n  backoff_min: 30000\n  backoff_max: 30000\n")

    config = Path.join(ctx.dir, "clusterd.yaml")
    File.write!(config, yaml)
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    # n3 is not running yet: clusterd waits 30 s before trying it again.
    H.wait_for_log(ctx, h, ~r/cannot connect to member.*node=n3@/)

    H.start_erl(ctx, "n3")
    assert eval_within(n3, "net_adm:ping('#{h.node}').") == :pong
    H.wait_for_log(ctx, h, ~r/link up.*node=n3@127\.0\.0\.1.*via="the member's connection"/)
    H.wait_for_full_mesh(ctx, [n1, n2, n3])
    assert H.peer?(n3, h.node)
    sync_all([n1, n2, n3], "after the adoption")
  end

  test "a member that reconnects on its own while a forwarder of the old connection still " <>
         "talks is observed again and healed",
       ctx do
    # The member drops clusterd and, at once, a process of the old
    # connection's era (like a forwarder that has not seen the nodedown yet)
    # sends to clusterd, which makes the member connect again. clusterd adopts
    # that connection; it must then track the forwarder it starts itself, not
    # the stale sender, or it never sees this member's nodes() again.
    members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    [n1, _n2] = members
    config = H.write_config(ctx, hosts: members, poll_interval: 600_000)
    h = H.start_clusterd(ctx, config, args: ["-v"])
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    r = H.run_cli(ctx, ["status", "-c", config, "--json"])
    assert r.status == 0, r.err
    creation = Clusterd.JSON.decode!(r.out)["creation"]

    eval_within(n1, """
    C = '#{h.node}',
    true = erlang:disconnect_node(C),
    {clusterd, C} ! {clusterd_event, #{creation}, node(), self(), nodeup, 'n2@127.0.0.1', []},
    ok.
    """)

    H.wait_for_log(ctx, h, ~r/link up.*node=n1@127\.0\.0\.1.*via="the member's connection"/)

    # n1 now meets a node only n1 can report: clusterd sees it only if it
    # follows the forwarder it started on the new connection.
    n3 = H.start_erl(ctx, "n3", connect_all: false)
    assert eval_within(n1, "net_kernel:connect_node('#{n3}').") == true

    seen = fn ->
      r = H.run_cli(ctx, ["status", "-c", config, "--json"])
      r.status == 0 and "#{n3}" in Clusterd.JSON.decode!(r.out)["links"]["#{n1}"]["sees"]
    end

    assert {:ok, _} = H.wait_until(15_000, seen),
           "clusterd does not follow n1's forwarder after the reconnect\n" <>
             H.clusterd_logs_tail(ctx)

    assert H.running?(h)
  end

  defp suite(ctx, mode) do
    members =
      H.start_erl_nodes(ctx, ~w(n1 n2 n3),
        args: ["-kernel", "net_ticktime", "#{@ticktime}", "-kernel", "start_pg", "true"]
      )

    [m1, m2, m3] = members

    # clusterd keeps its default net_ticktime (60 s), longer than the
    # members' 4 s: its ticks must still reach a member that streams to it.
    # No safety-net poll either (its resync messages would be writes too).
    config =
      H.write_config(ctx,
        hosts: members,
        poll_interval: 600_000,
        node_extra: ["  visibility: #{mode}"]
      )

    check = H.run_cli(ctx, ["check", "-c", config])
    assert check.status == 0, check.err
    assert check.out =~ "configuration OK"

    if mode == :visible do
      assert check.err =~ "visibility: visible", "check does not warn:\n" <> check.err
      assert check.err =~ "rpc:multicall"
    else
      refute check.err =~ "visibility"
    end

    h = H.start_clusterd(ctx, config, args: ["-v"])
    H.wait_for_full_mesh(ctx, members)

    # --- clusterd's place in nodes()
    case mode do
      :visible ->
        wait_all(ctx, members, "clusterd in nodes()", &H.peer?(&1, h.node))

      :hidden ->
        H.wait_for_hidden_peer(ctx, members, h.node)
    end

    for m <- members do
      {:ok, visible} = H.nodes_of(m)
      others = Enum.sort(visible -- [h.node])
      assert others == Enum.sort(members -- [m]), "#{m} sees #{inspect(visible)}"

      if mode == :visible,
        do: assert(h.node in visible, "#{m} does not list clusterd: #{inspect(visible)}"),
        else: refute(h.node in visible, "hidden clusterd is in #{m}'s nodes()")
    end

    mesh_ids = H.connection_ids(members)
    cnode_ids = cnode_connection_ids(members, h.node)
    assert map_size(cnode_ids) == 3

    # --- global:sync() returns on every member (it hangs forever when a
    # visible node ignores global's init_connect).
    sync_all(members, "with clusterd connected")

    if mode == :visible do
      for m <- members,
          do: H.wait_for_log(ctx, h, ~r/answered.*node=#{Regex.escape("#{m}")}.*global init_connect/)
    end

    # --- locks: global:trans/2 and set_lock/del_lock over [node() | nodes()]
    for m <- members do
      assert eval_within(m, "global:trans({visible_test_lock, self()}, fun() -> done end).") ==
               :done

      assert eval_within(m, """
             Id = {visible_test_lock2, self()},
             {global:set_lock(Id), global:del_lock(Id)}.
             """) == {true, true}
    end

    # A lock held on one member still excludes the others.
    {true, holder} =
      eval_within(m1, """
      Parent = self(),
      P = spawn(fun() ->
            R = global:set_lock({visible_test_res, holder}),
            Parent ! {locked, R},
            receive stop -> global:del_lock({visible_test_res, holder}) end
          end),
      receive {locked, R} -> {R, P} after 10000 -> timeout end.
      """)

    assert eval_within(m2, "global:set_lock({visible_test_res, other}, [node() | nodes()], 0).") ==
             false

    send(holder, :stop)

    assert eval_within(m2, "global:trans({visible_test_res, other}, fun() -> got_it end).") ==
             :got_it

    # --- names: global:register_name/2 works and is seen everywhere
    named =
      eval_within(m1, """
      P = spawn(fun() -> receive stop -> ok end end),
      yes = global:register_name(visible_test_name, P),
      P.
      """)

    for m <- members do
      assert eval_within(m, "global:whereis_name(visible_test_name).") == named
    end

    assert eval_within(m2, "global:register_name(visible_test_name, self()).") == :no

    # --- pg: a group joined on one member is seen by the others
    grouped =
      eval_within(m1, """
      P = spawn(fun() -> receive stop -> ok end end),
      ok = pg:join(visible_test_group, P),
      P.
      """)

    wait_all(ctx, members, "pg group membership", fn m ->
      eval_within(m, "pg:get_members(visible_test_group).") == [grouped]
    end)

    # --- what cannot work, as documented: rpc to clusterd is notsup; filter it
    {results, []} = eval_within(m1, "rpc:multicall(nodes(), erlang, node, [], 5000).")
    filtered_src = "rpc:multicall(nodes() -- ['#{h.node}'], erlang, node, [], 5000)."
    {filtered, []} = eval_within(m1, filtered_src)
    assert Enum.sort(filtered) == [m2, m3]

    if mode == :visible,
      do: assert({:badrpc, :notsup} in results, inspect(results)),
      else: assert(Enum.sort(results) == [m2, m3])

    # net_adm:ping answers (clusterd answers net_kernel's is_auth).
    assert eval_within(m1, "net_adm:ping('#{h.node}').") == :pong

    # --- every member streams to clusterd for 4 x net_ticktime: the BEAM does
    # not tick a visible peer while it writes, so only clusterd's own ticks
    # keep the connections alive.
    H.install_link_monitors(members)
    stream_ms = 4 * @ticktime * 1000 + 1000

    for m <- members do
      eval_within(m, """
      C = '#{h.node}', Until = erlang:monotonic_time(millisecond) + #{stream_ms},
      spawn(fun() ->
          L = fun Loop(N) ->
                  case erlang:monotonic_time(millisecond) < Until of
                    true -> {visible_test_sink, C} ! {n, N, binary:copy(<<1>>, 512)},
                            timer:sleep(50), Loop(N + 1);
                    false -> ok
                  end
              end,
          L(0)
        end),
      ok.
      """)
    end

    # Checked every second while the members stream (which also keeps the
    # observer's own connections busy: members with a 4 s net_ticktime drop
    # a silent observer).
    stream_end = H.now_ms() + stream_ms + 500

    Stream.repeatedly(fn -> Process.sleep(1000) end)
    |> Enum.take_while(fn _ ->
      assert cnode_connection_ids(members, h.node) == cnode_ids,
             "a member's connection to clusterd was dropped or replaced while streaming\n" <>
               H.clusterd_logs_tail(ctx)

      H.now_ms() < stream_end
    end)

    refute H.clusterd_log(h) =~ "link down", H.clusterd_logs_tail(ctx)

    for {m, events} <- H.link_events(members),
        do: assert(events == [], "#{m} saw nodedowns while streaming: #{inspect(events)}")

    assert H.connection_ids(members) == mesh_ids

    # --- clusterd stops: the members' mesh stays as it was, global unblocked
    assert {:ok, 0} = H.stop_clusterd(h)

    wait_all(ctx, members, "clusterd gone", fn m ->
      match?({:ok, l} when is_list(l), H.nodes_of(m, :connected)) and
        not H.peer?(m, h.node, :connected)
    end)

    assert H.connection_ids(members) == mesh_ids, "links between members changed"
    assert H.full_mesh?(members)

    for {m, events} <- H.link_events(members) do
      between_members = for {peer, _} = e <- events, peer in members, do: e
      assert between_members == [], "#{m} lost members: #{inspect(events)}"
    end

    sync_all(members, "after clusterd stopped")

    for m <- members do
      assert eval_within(m, "global:trans({visible_test_lock, self()}, fun() -> done end).") ==
               :done

      assert eval_within(m, "global:whereis_name(visible_test_name).") == named
      assert eval_within(m, "pg:get_members(visible_test_group).") == [grouped]
    end

    for m <- members do
      log = File.read!(Path.join(ctx.dir, "#{m}.log"))
      refute log =~ "overlapping partitions", "#{m}: #{log}"
    end
  end

  # global:sync() on every member at once; each must return :ok within the
  # generous bound (the time each took, measured on the member, is printed).
  defp sync_all(members, label) do
    src = """
    T0 = erlang:monotonic_time(millisecond),
    R = global:sync(),
    {R, erlang:monotonic_time(millisecond) - T0}.
    """

    started = for m <- members, do: {m, start_eval(m, src)}

    for {m, ref} <- started do
      {result, ms} = await_eval(m, ref, "global:sync() #{label}")
      assert result == :ok, "global:sync() on #{m} #{label}: #{inspect(result)}"
      IO.puts("    global:sync() on #{m} #{label}: #{ms} ms")
    end
  end

  # clusterd's connection id on each member (any connection type).
  defp cnode_connection_ids(members, cnode) do
    for m <- members,
        {^cnode, %{connection_id: id}} <-
          :erpc.call(m, :erlang, :nodes, [:connected, %{connection_id: true}], 2000),
        into: %{},
        do: {m, id}
  end

  defp wait_all(ctx, members, what, fun) do
    case H.wait_until(20_000, fn -> Enum.all?(members, fun) end) do
      {:ok, _} -> :ok
      :timeout -> flunk("#{what}: not on every member\n" <> H.clusterd_logs_tail(ctx))
    end
  end

  # Evaluates Erlang source on node, in a process of its own there that sends
  # the value back; fails if it does not return within @bound. (Not an erpc
  # call held open: a member with a short net_ticktime drops the observer's
  # connection if the observer stays silent while waiting, and the answer
  # then arrives over a new one.)
  defp eval_within(node, src), do: await_eval(node, start_eval(node, src), src)

  defp start_eval(node, src) do
    body = src |> String.trim() |> String.trim_trailing(".")

    wrapped =
      "VtMe__ ! {VtRef__, try begin #{body} end " <>
        "catch VtClass__:VtReason__ -> {eval_failed, VtClass__, VtReason__} end}."

    {:ok, tokens, _} = :erl_scan.string(String.to_charlist(wrapped))
    {:ok, exprs} = :erl_parse.parse_exprs(tokens)
    ref = make_ref()

    bindings =
      :erl_eval.new_bindings()
      |> then(&:erl_eval.add_binding(:VtMe__, self(), &1))
      |> then(&:erl_eval.add_binding(:VtRef__, ref, &1))

    _pid = :erpc.call(node, :erlang, :spawn, [:erl_eval, :exprs, [exprs, bindings]], 5000)
    ref
  end

  defp await_eval(node, ref, what) do
    receive do
      {^ref, {:eval_failed, class, reason}} ->
        flunk("on #{node}, #{what}\nraised #{inspect(class)}: #{inspect(reason)}")

      {^ref, value} ->
        value
    after
      @bound -> flunk("on #{node}, did not return within #{@bound} ms:\n#{what}")
    end
  end
end

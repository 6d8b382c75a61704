%% farm: one BEAM process that plays N cluster members for clusterd's
%% scale benchmark (bench/farm_bench.sh). Not an Erlang node itself: it
%% speaks the distribution protocol by hand on loopback.
%%
%%   - a fake EPMD (PORT_PLEASE2, NAMES, ALIVE2 for clusterd's own
%%     registration) that resolves mI@127.0.0.1 to member I's own port;
%%   - per member a listening socket and the acceptor side of the v6 ('N')
%%     or v5 ('n') handshake, MD5 digest with the cookie;
%%   - after the handshake: ticks, and the RPCs clusterd sends through
%%     `rex` (erlang:spawn of the event forwarder, erl_eval:eval_str of the
%%     parallel connect, lists:map of connect_node/disconnect_node,
%%     erlang:nodes/node/system_info), plus the forwarder's messages
%%     ({clusterd_nodes, ...} snapshots, nodeup/nodedown events, and the
%%     answer to a resync: {clusterd_unchanged, ...} when the member's
%%     links are what its forwarder has reported, else the whole list);
%%   - member-to-member links are virtual: a bit matrix (atomics) set and
%%     cleared by the connect/disconnect RPCs, each side's forwarder told.
%%
%% Counters per member and kind are kept where the RPCs arrive, and served
%% on a line-oriented control socket: `stats`, `drop A B`, `quit`.
%%
%% Run: erl -noshell -pa DIR -s farm start -extra N EpmdPort CtlPort CookieFile
-module(farm).
-export([start/0]).

-define(FLAGS, (16#1 bor 16#4 bor 16#8 bor 16#10 bor 16#80 bor 16#100 bor 16#200 bor
                16#400 bor 16#800 bor 16#4000 bor 16#10000 bor 16#20000 bor 16#40000 bor
                16#1000000)).
-define(TICK_MS, 15000).
%% counter kinds, per member
-define(K_SPAWN, 1).      % erlang:spawn (event forwarder)
-define(K_EVAL, 2).       % erl_eval:eval_str (parallel connect)
-define(K_MAP, 3).        % lists:map (connect/disconnect MFA)
-define(K_OTHER, 4).      % any other RPC (nodes, node, system_info, ...)
-define(K_RESYNC, 5).     % {clusterd_resync, Cr} messages (safety-net poll)
-define(K_STOP, 6).       % {clusterd_stop, Cr}
-define(K_MSG, 7).        % other messages
-define(K_HS, 8).         % completed handshakes
-define(K_EVENTS, 9).     % nodeup/nodedown events sent
-define(K_SNAP, 10).      % nodes() snapshots sent
-define(K_BYTES_OUT, 11). % bytes written to clusterd
-define(K_UNCHANGED, 12). % {clusterd_unchanged, ...} resync answers sent
-define(NK, 12).

start() ->
    [Ns, EpmdS, CtlS, CookieFile] = init:get_plain_arguments(),
    N = list_to_integer(Ns),
    {ok, Cookie0} = file:read_file(CookieFile),
    Cookie = string:trim(Cookie0),
    Names = list_to_tuple([list_to_atom("m" ++ integer_to_list(I) ++ "@127.0.0.1")
                           || I <- lists:seq(1, N)]),
    Index = maps:from_list([{element(I, Names), I - 1} || I <- lists:seq(1, N)]),
    Words = (N * N + 63) div 64,
    persistent_term:put(farm_n, N),
    persistent_term:put(farm_cookie, Cookie),
    persistent_term:put(farm_names, Names),
    persistent_term:put(farm_index, Index),
    %% each member's name as an encoded atom (no version byte), for messages
    %% assembled from pieces instead of term_to_binary per event
    persistent_term:put(farm_atoms, list_to_tuple([enc(element(I, Names))
                                                   || I <- lists:seq(1, N)])),
    persistent_term:put(farm_bits, atomics:new(Words, [{signed, false}])),
    %% 1 links set (directed), 2 forwarders alive, 3 full-mesh time (ms),
    %% 4 last drop time (ms), 5 conns up
    persistent_term:put(farm_g, atomics:new(5, [{signed, true}])),
    persistent_term:put(farm_c, counters:new(N * ?NK, [write_concurrency])),
    ets:new(farm_conn, [named_table, public, set, {read_concurrency, true}]),
    ets:new(farm_ports, [named_table, public, set, {read_concurrency, true}]),
    [listen_member(I) || I <- lists:seq(0, N - 1)],
    {ok, EL} = gen_tcp:listen(list_to_integer(EpmdS),
                              [binary, {packet, 0}, {active, false}, {reuseaddr, true},
                               {ip, {127, 0, 0, 1}}, {backlog, 1024}]),
    spawn(fun() -> accept_loop(EL, fun epmd_conn/1) end),
    %% the control socket answers even when thousands of members are busy
    process_flag(priority, high),
    {ok, CL} = gen_tcp:listen(list_to_integer(CtlS),
                              [binary, {packet, line}, {active, false}, {reuseaddr, true},
                               {ip, {127, 0, 0, 1}}]),
    io:format("farm: ~b members up~n", [N]),
    accept_loop(CL, fun ctl_conn/1).

accept_loop(L, F) ->
    case gen_tcp:accept(L) of
        {ok, S} ->
            P = spawn(fun() -> receive go -> F(S) end end),
            ok = gen_tcp:controlling_process(S, P),
            P ! go,
            accept_loop(L, F);
        {error, _} ->
            timer:sleep(10),
            accept_loop(L, F)
    end.

name(I) -> element(I + 1, persistent_term:get(farm_names)).
atom_enc(I) -> element(I + 1, persistent_term:get(farm_atoms)).
enc(T) -> <<131, B/binary>> = term_to_binary(T), B.
cnt(I, K) -> counters:add(persistent_term:get(farm_c), I * ?NK + K, 1).
cnt(I, K, V) -> counters:add(persistent_term:get(farm_c), I * ?NK + K, V).
g() -> persistent_term:get(farm_g).
now_ms() -> erlang:system_time(millisecond).

%% ---- members: listen, handshake, serve ----

listen_member(I) ->
    {ok, L} = gen_tcp:listen(0, [binary, {packet, 2}, {active, false}, {reuseaddr, true},
                                 {ip, {127, 0, 0, 1}}, {backlog, 16}, {nodelay, true}]),
    {ok, Port} = inet:port(L),
    [Alive, _] = string:split(atom_to_list(name(I)), "@"),
    ets:insert(farm_ports, {list_to_binary(Alive), Port}),
    spawn(fun() -> accept_loop(L, fun(S) -> member_conn(S, I) end) end).

digest(Ch) -> erlang:md5([persistent_term:get(farm_cookie), integer_to_list(Ch)]).

member_conn(S, I) ->
    case catch handshake(S, I) of
        {ok, Creation} ->
            cnt(I, ?K_HS),
            atomics:add(g(), 5, 1),
            ets:insert(farm_conn, {I, self()}),
            %% raw mode: frames are cut here and written in batches
            ok = inet:setopts(S, [{packet, 0}, {active, once}]),
            erlang:send_after(?TICK_MS, self(), tick),
            serve(#{s => S, i => I, cr => Creation, fwd => none, pidn => 1, buf => <<>>}),
            ok;
        _ ->
            gen_tcp:close(S)
    end.

handshake(S, I) ->
    {ok, Hello} = gen_tcp:recv(S, 0, 10000),
    New = case Hello of
              <<$N, _:64, _:32, _/binary>> -> true;
              <<$n, _:16, F:32, _/binary>> -> F band 16#1000000 =/= 0
          end,
    ok = gen_tcp:send(S, <<"sok">>),
    Ch = rand:uniform(16#fffffffe),
    Creation = rand:uniform(16#fffffffe),
    Me = atom_to_binary(name(I), utf8),
    Chal = case New of
               true -> <<$N, ?FLAGS:64, Ch:32, Creation:32, (byte_size(Me)):16, Me/binary>>;
               false -> <<$n, 5:16, ?FLAGS:32, Ch:32, Me/binary>>
           end,
    ok = gen_tcp:send(S, Chal),
    Reply = case gen_tcp:recv(S, 0, 10000) of
                {ok, <<$c, _/binary>>} -> {ok, R} = gen_tcp:recv(S, 0, 10000), R;
                {ok, R} -> R
            end,
    <<$r, PeerCh:32, Dig:16/binary>> = Reply,
    Dig = digest(Ch),
    ok = gen_tcp:send(S, <<$a, (digest(PeerCh))/binary>>),
    {ok, Creation}.

send_pkt(St, Ctl, Msg) ->
    send_raw(St, [112, term_to_binary(Ctl), term_to_binary(Msg)]).

serve(St = #{s := S}) ->
    receive
        {tcp, S, Data} ->
            inet:setopts(S, [{active, once}]),
            #{buf := Buf} = St,
            serve(frames(<<Buf/binary, Data/binary>>, St));
        {tcp_closed, S} -> down(St);
        {tcp_error, S, _} -> down(St);
        tick ->
            _ = gen_tcp:send(S, <<0:32>>),
            erlang:send_after(?TICK_MS, self(), tick),
            serve(St);
        {vev, Up, Peer} ->
            %% this and every other event already waiting: one write
            Evs = [{Up, Peer} | drain_events(2000)],
            send_many(St, [event_pkt(St, U, P) || {U, P} <- Evs]),
            serve(reported(St, Evs))
    end.

drain_events(0) -> [];
drain_events(K) ->
    receive {vev, Up, Peer} -> [{Up, Peer} | drain_events(K - 1)]
    after 0 -> []
    end.

%% What the forwarder has reported: its last list plus the events it sent.
reported(St = #{fwd := none}, _) -> St;
reported(St = #{rep := Rep}, Evs) ->
    St#{rep := lists:foldl(fun({true, P}, R) -> R#{P => []};
                              ({false, P}, R) -> maps:remove(P, R)
                           end, Rep, Evs)};
reported(St, _) -> St.

frames(<<Len:32, Pkt:Len/binary, Rest/binary>>, St) ->
    frames(Rest, packet(Pkt, St));
frames(Buf, St) ->
    St#{buf := Buf}.

packet(<<>>, St) -> St;
packet(<<112, Rest/binary>>, St) ->
    {Ctl, Used} = binary_to_term(Rest, [used]),
    Msg = case byte_size(Rest) - Used of
              0 -> none;
              Len when Len > 4096 ->
                  %% a parallel-connect source with many targets: decoded as
                  %% an Erlang string it costs 16 bytes a character in every
                  %% member at once (GBs at 5,000); read it as bytes instead
                  case binary:part(Rest, Used, Len) of
                      <<131, 104, 2, Tail/binary>> = Bin ->
                          {From, _} = binary_to_term(<<131, Tail/binary>>, [used]),
                          {big, From, Bin};
                      Bin ->
                          binary_to_term(Bin)
                  end;
              Len -> binary_to_term(binary:part(Rest, Used, Len))
          end,
    handle(Ctl, Msg, St);
packet(_, St) -> St.

down(#{i := I, fwd := F}) ->
    ets:delete_object(farm_conn, {I, self()}),
    atomics:sub(g(), 5, 1),
    case F of none -> ok; _ -> atomics:sub(g(), 2, 1) end,
    ok.

handle({6, From, _, rex}, {From2, {call, M, F, A, _Gl}}, St) ->
    _ = From,
    {Reply, St2} = rpc(M, F, A, St),
    send_pkt(St2, {2, '', From2}, {rex, Reply}),
    case St2 of
        #{snap_now := true} -> snapshot(maps:remove(snap_now, St2));
        _ -> St2
    end;
handle(Ctl = {6, _, _, rex}, {big, From, Bin}, St) ->
    case binary:match(Bin, <<"net_kernel:connect_node">>) of
        nomatch -> handle(Ctl, binary_to_term(Bin), St); % e.g. lists:map over many targets
        _ -> big_connect(From, Bin, St)
    end;
handle(Ctl, {clusterd_resync, Cr}, St = #{i := I, fwd := {_, Cr}})
  when element(1, Ctl) =:= 2; element(1, Ctl) =:= 22 ->
    cnt(I, ?K_RESYNC),
    resync(St);
handle(Ctl, {clusterd_stop, _}, St = #{i := I, fwd := F})
  when element(1, Ctl) =:= 2; element(1, Ctl) =:= 22 ->
    cnt(I, ?K_STOP),
    case F of none -> ok; _ -> atomics:sub(g(), 2, 1) end,
    St#{fwd := none};
handle(_, _, St = #{i := I}) ->
    cnt(I, ?K_MSG),
    St.

big_connect(From, Bin, St = #{i := I}) ->
    cnt(I, ?K_EVAL),
    %% the target list only: "Ts = ['a@h','b@h',...]"
    {From0, _} = binary:match(Bin, <<"Ts = [">>),
    Start = From0 + 6,
    {End, _} = binary:match(Bin, <<"]">>, [{scope, {Start, byte_size(Bin) - Start}}]),
    List = binary:part(Bin, Start, End - Start),
    Ts = [binary:part(T, 1, byte_size(T) - 2)
          || T <- binary:split(List, <<",">>, [global]), byte_size(T) > 2],
    Reply = {ok, [vlink(I, binary_to_atom(T, utf8), true) || T <- Ts]},
    send_pkt(St, {2, '', From}, {rex, Reply}),
    St.

mkpid(#{i := I, cr := Cr, pidn := P}) ->
    <<131, A/binary>> = term_to_binary(name(I)),
    binary_to_term(<<131, 88, A/binary, P:32, 0:32, Cr:32>>).

rpc(erlang, spawn, [erl_eval, eval_str, [Src]], St = #{i := I, fwd := F0, pidn := P}) ->
    cnt(I, ?K_SPAWN),
    {match, [_C, CrS]} = re:run(Src, "C = '([^']+)', Cr = ([0-9]+)",
                                [{capture, all_but_first, list}]),
    Pid = mkpid(St),
    Cr = list_to_integer(CrS),
    case F0 of none -> atomics:add(g(), 2, 1); _ -> ok end,
    Ctl = term_to_binary({6, Pid, '', clusterd}),
    Common = [enc(Cr), enc(name(I)), enc(Pid)],
    Heads = #{ev_up => iolist_to_binary([112, Ctl, 131, 104, 7, enc(clusterd_event), Common,
                                         enc(nodeup)]),
              ev_down => iolist_to_binary([112, Ctl, 131, 104, 7, enc(clusterd_event), Common,
                                           enc(nodedown)]),
              info_up => enc([{node_type, visible}]),
              info_down => enc([{node_type, visible}, {nodedown_reason, disconnect}]),
              snap => iolist_to_binary([112, Ctl, 131, 104, 5, enc(clusterd_nodes), Common]),
              unch => iolist_to_binary([112, Ctl, 131, 104, 5, enc(clusterd_unchanged),
                                        Common])},
    {Pid, St#{fwd := {Pid, Cr}, heads => Heads, pidn := P + 1, snap_now => true}};
rpc(erl_eval, eval_str, [Src], St = #{i := I}) ->
    cnt(I, ?K_EVAL),
    case re:run(Src, "'([^']+)'", [global, {capture, all_but_first, binary}]) of
        {match, Ts} ->
            {{ok, [vlink(I, binary_to_atom(T, utf8), true) || [T] <- Ts]}, St};
        nomatch ->
            {{ok, []}, St}
    end;
rpc(lists, map, [Fun, Ts], St = #{i := I}) ->
    cnt(I, ?K_MAP),
    {name, Fn} = erlang:fun_info(Fun, name),
    Up = Fn =:= connect_node,
    {[vlink(I, T, Up) || T <- Ts], St};
rpc(M, F, A, St = #{i := I}) ->
    cnt(I, ?K_OTHER),
    R = case {M, F, A} of
            {erlang, nodes, []} -> nodes_of(I);
            {erlang, nodes, [visible]} -> nodes_of(I);
            {erlang, nodes, [connected]} -> nodes_of(I);
            {erlang, nodes, [_]} -> [];
            {erlang, node, []} -> name(I);
            {erlang, system_info, [otp_release]} -> "25";
            {net_kernel, connect_node, [T]} -> vlink(I, T, true);
            {erlang, disconnect_node, [T]} -> vlink(I, T, false);
            _ -> {badrpc, {'EXIT', {undef, [{M, F, A, []}]}}}
        end,
    {R, St}.

%% ---- virtual links ----

bit_op(Bit, Set) ->
    A = persistent_term:get(farm_bits),
    W = Bit div 64 + 1,
    Mask = 1 bsl (Bit rem 64),
    Old = atomics:get(A, W),
    Has = Old band Mask =/= 0,
    if
        Has =:= Set -> false;
        true ->
            New = case Set of true -> Old bor Mask; false -> Old band (bnot Mask) end,
            case atomics:compare_exchange(A, W, Old, New) of
                ok -> true;
                _ -> bit_op(Bit, Set)
            end
    end.

%% Sets or clears the link I-Peer on both sides; each side whose bit changed
%% hears a nodeup/nodedown through its forwarder. Returns what
%% connect_node/disconnect_node would.
vlink(I, Peer, Up) ->
    N = persistent_term:get(farm_n),
    case maps:find(Peer, persistent_term:get(farm_index)) of
        {ok, J} when J =/= I -> set_pair(I, J, N, Up), true;
        _ -> Up =:= false
    end.

set_pair(I, J, N, Up) ->
    side(I, J, N, Up),
    side(J, I, N, Up).

side(X, Y, N, Up) ->
    case bit_op(X * N + Y, Up) of
        true ->
            G = g(),
            Links = case Up of
                        true -> atomics:add_get(G, 1, 1);
                        false -> atomics:sub_get(G, 1, 1)
                    end,
            Links =:= N * (N - 1) andalso atomics:put(G, 3, now_ms()),
            case ets:lookup(farm_conn, X) of
                [{_, P}] -> P ! {vev, Up, Y};
                [] -> ok
            end;
        false ->
            ok
    end.

event_pkt(#{fwd := none}, _, _) -> none;
event_pkt(#{i := I, heads := H}, Up, Peer) ->
    cnt(I, ?K_EVENTS),
    case Up of
        true -> [maps:get(ev_up, H), atom_enc(Peer), maps:get(info_up, H)];
        false -> [maps:get(ev_down, H), atom_enc(Peer), maps:get(info_down, H)]
    end.

send_raw(St, Pkt) -> send_many(St, [Pkt]).

%% Writes packets (iolists without their length) in one gen_tcp:send.
send_many(#{s := S, i := I}, Pkts) ->
    Framed = [[<<(iolist_size(P)):32>>, P] || P <- Pkts, P =/= none],
    case Framed of
        [] -> ok;
        _ ->
            cnt(I, ?K_BYTES_OUT, iolist_size(Framed)),
            _ = gen_tcp:send(S, Framed),
            ok
    end.

nodes_of(I) -> [name(J) || J <- peers_of(I)].

peers_of(I) ->
    N = persistent_term:get(farm_n),
    A = persistent_term:get(farm_bits),
    row(A, I * N, I * N + N, I * N, []).

%% Members J with bit (I*N + J) set, scanning a word at a time.
row(_, B, End, _, Acc) when B >= End -> lists:reverse(Acc);
row(A, B, End, Base, Acc) ->
    W = atomics:get(A, B div 64 + 1),
    Off = B rem 64,
    Lim = min(64, Off + (End - B)),
    Acc2 = case W bsr Off of
               0 -> Acc;
               _ -> bits(W, Off, Lim, B - Off - Base, Acc)
           end,
    row(A, B + (Lim - Off), End, Base, Acc2).

bits(_, K, Lim, _, Acc) when K >= Lim -> Acc;
bits(W, K, Lim, J0, Acc) ->
    Acc2 = case (W bsr K) band 1 of 1 -> [J0 + K | Acc]; 0 -> Acc end,
    bits(W, K + 1, Lim, J0, Acc2).

snapshot(St = #{fwd := none}) -> St;
snapshot(St = #{i := I}) -> snapshot(St, peers_of(I)).

snapshot(St = #{i := I, heads := H}, Ps) ->
    cnt(I, ?K_SNAP),
    Tail = case Ps of
               [] -> [106];
               _ -> [108, <<(length(Ps)):32>>, [atom_enc(J) || J <- Ps], 106]
           end,
    send_raw(St, [maps:get(snap, H), Tail]),
    St#{rep => maps:from_list([{J, []} || J <- Ps])}.

%% As the forwarder does: compare the real links with what was reported;
%% a short answer when equal, the whole list when not.
resync(St = #{fwd := none}) -> St;
resync(St0 = #{rep := _}) ->
    %% as the forwarder does: the events already waiting go out first
    Evs = drain_events(1000000),
    send_many(St0, [event_pkt(St0, U, P) || {U, P} <- Evs]),
    St = #{i := I, heads := H, rep := Rep} = reported(St0, Evs),
    Ps = peers_of(I),
    case length(Ps) =:= map_size(Rep) andalso lists:all(fun(J) -> maps:is_key(J, Rep) end, Ps) of
        true ->
            cnt(I, ?K_UNCHANGED),
            send_raw(St, [maps:get(unch, H), enc(map_size(Rep))]),
            St;
        false ->
            snapshot(St, Ps)
    end;
resync(St) -> snapshot(St).

%% ---- fake EPMD ----

epmd_conn(S) ->
    case recv_req(S) of
        {ok, <<122, Alive/binary>>} ->
            case ets:lookup(farm_ports, Alive) of
                [{_, Port}] ->
                    gen_tcp:send(S, <<119, 0, Port:16, 77, 0, 6:16, 5:16,
                                      (byte_size(Alive)):16, Alive/binary, 0:16>>);
                [] ->
                    gen_tcp:send(S, <<119, 1>>)
            end,
            gen_tcp:close(S);
        {ok, <<110>>} ->
            {ok, {_, EP}} = inet:sockname(S),
            L = [io_lib:format("name ~s at port ~b~n", [A, P])
                 || {A, P} <- lists:sort(ets:tab2list(farm_ports))],
            gen_tcp:send(S, [<<EP:32>>, L]),
            gen_tcp:close(S);
        {ok, <<120, Port:16, _T, _P, High:16, _Low:16, NL:16, Alive:NL/binary, _/binary>>} ->
            Cr = rand:uniform(16#fffffffe),
            ets:insert(farm_ports, {Alive, Port}),
            case High >= 6 of
                true -> gen_tcp:send(S, <<118, 0, Cr:32>>);
                false -> gen_tcp:send(S, <<121, 0, (Cr band 16#ffff):16>>)
            end,
            _ = gen_tcp:recv(S, 0),
            ets:delete(farm_ports, Alive),
            gen_tcp:close(S);
        _ ->
            gen_tcp:close(S)
    end.

recv_req(S) ->
    case gen_tcp:recv(S, 2, 5000) of
        {ok, <<Len:16>>} -> gen_tcp:recv(S, Len, 5000);
        E -> E
    end.

%% ---- control ----

ctl_conn(S) ->
    process_flag(priority, high),
    case gen_tcp:recv(S, 0) of
        {ok, Line} ->
            gen_tcp:send(S, ctl(string:split(string:trim(Line), " ", all))),
            ctl_conn(S);
        _ ->
            gen_tcp:close(S)
    end.

ctl([<<"stats">>]) ->
    N = persistent_term:get(farm_n),
    C = persistent_term:get(farm_c),
    G = g(),
    Kinds = [{spawn, ?K_SPAWN}, {eval, ?K_EVAL}, {map, ?K_MAP}, {other_rpc, ?K_OTHER},
             {resync, ?K_RESYNC}, {stop, ?K_STOP}, {other_msg, ?K_MSG},
             {handshakes, ?K_HS}, {events, ?K_EVENTS}, {snapshots, ?K_SNAP}, {unchanged, ?K_UNCHANGED},
             {bytes_out, ?K_BYTES_OUT}],
    PerKind = [{K, [counters:get(C, I * ?NK + Ix) || I <- lists:seq(0, N - 1)]}
               || {K, Ix} <- Kinds],
    Rpcs = [lists:sum([counters:get(C, I * ?NK + Ix) || Ix <- [?K_SPAWN, ?K_EVAL, ?K_MAP, ?K_OTHER]])
            || I <- lists:seq(0, N - 1)],
    Lines = [io_lib:format("members ~b~nlinks ~b~nwant ~b~nforwarders ~b~nconns ~b~n"
                           "full_mesh_ms ~b~ndrop_ms ~b~nrpcs ~b~nrpcs_max_member ~b~n",
                           [N, atomics:get(G, 1), N * (N - 1), atomics:get(G, 2),
                            atomics:get(G, 5), atomics:get(G, 3), atomics:get(G, 4),
                            lists:sum(Rpcs), lists:max(Rpcs)])
             | [io_lib:format("~s ~b~n", [K, lists:sum(V)]) || {K, V} <- PerKind]],
    [Lines, "end\n"];
ctl([<<"drop">>, A, B]) ->
    N = persistent_term:get(farm_n),
    Ix = persistent_term:get(farm_index),
    case {maps:find(binary_to_atom(A, utf8), Ix), maps:find(binary_to_atom(B, utf8), Ix)} of
        {{ok, I}, {ok, J}} ->
            atomics:put(g(), 4, now_ms()),
            set_pair(I, J, N, false),
            "ok\nend\n";
        _ ->
            "error unknown member\nend\n"
    end;
ctl([<<"quit">>]) ->
    erlang:halt(0, [{flush, false}]);
ctl(_) ->
    "error unknown command\nend\n".

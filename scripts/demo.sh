#!/usr/bin/env bash
# `make demo`: three real Elixir nodes that know nothing of each other, then
# clusterd meshes them. Everything runs on loopback with a private epmd, and
# everything this script starts is stopped by pid when it ends.
set -u
cd "$(dirname "$0")/.."

BIN=${CLUSTERD_BIN:-priv/clusterd}
CONFIG=config/dev.yaml
DEMO_DIR=/tmp/clusterd-demo          # must match node.cookie_file in config/dev.yaml
NODES="a b c"

if [ -t 1 ]; then
  bold() { sleep "${DEMO_PAUSE:-0.6}"; printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  bold() { printf '\n== %s\n' "$*"; }
fi
die() { echo "demo: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN not found; run make first"
command -v elixir >/dev/null || die "elixir not found"

# Private state: a 0700 directory with the cookie (0600). Members read it as
# $HOME/.erlang.cookie, clusterd through cookie_file: no cookie on any argv.
mkdir -p "$DEMO_DIR" && chmod 700 "$DEMO_DIR" || die "cannot use $DEMO_DIR"
[ -O "$DEMO_DIR" ] || die "$DEMO_DIR belongs to someone else"
rm -f "$DEMO_DIR"/*.log
umask 077
cookie=$(tr -dc 'A-Z' </dev/urandom | head -c 20)
rm -f "$DEMO_DIR/cookie" "$DEMO_DIR/.erlang.cookie"
printf '%s' "$cookie" >"$DEMO_DIR/cookie"
cp "$DEMO_DIR/cookie" "$DEMO_DIR/.erlang.cookie"
chmod 600 "$DEMO_DIR/cookie" "$DEMO_DIR/.erlang.cookie"

# A free port for our own epmd (nodes must not spawn a shared epmd -daemon).
port=
for p in $(seq 4370 4470); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || die "no free port for epmd in 4370-4470"
export ERL_EPMD_PORT=$port

pids=()
clusterd_pid=
cleanup() {
  trap - EXIT INT TERM
  [ -n "$clusterd_pid" ] && kill -TERM "$clusterd_pid" 2>/dev/null
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 30); do
    alive=0
    for pid in "${pids[@]}" $clusterd_pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}" $clusterd_pid; do kill -KILL "$pid" 2>/dev/null; done
  [ -n "${epmd_pid:-}" ] && kill -KILL "$epmd_pid" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One-shot hidden observer (registers nowhere): asks each node for its own
# Node.list(). MODE up: wait until all answer; mesh: wait for the full mesh.
observe() {
  DEMO_MODE=$1 HOME=$DEMO_DIR erl -noshell -name "observer@127.0.0.1" -dist_listen false \
    -start_epmd false -eval '
    Nodes = [list_to_atom(N ++ "@127.0.0.1") || N <- string:lexemes(os:getenv("DEMO_NODES"), " ")],
    Mode = os:getenv("DEMO_MODE"),
    Deadline = erlang:monotonic_time(millisecond) + 15000,
    Views = fun() -> [{N, rpc:call(N, erlang, nodes, [], 2000)} || N <- Nodes] end,
    Done = fun(Vs) ->
             case Mode of
               "up" -> lists:all(fun({_, L}) -> is_list(L) end, Vs);
               "mesh" -> lists:all(fun({N, L}) -> is_list(L) andalso lists:sort(L) =:= Nodes -- [N] end, Vs);
               _ -> true
             end
           end,
    Loop = fun L() ->
             Vs = Views(),
             case Done(Vs) orelse erlang:monotonic_time(millisecond) > Deadline of
               true -> Vs;
               false -> timer:sleep(100), L()
             end
           end,
    Vs = Loop(),
    [case Mode of
       "up" -> ok;
       _ ->
         Shown = case L of
                   _ when is_list(L) -> rpc:call(N, '"'"'Elixir.Kernel'"'"', inspect, [rpc:call(N, '"'"'Elixir.Node'"'"', list, [])]);
                   _ -> io_lib:format("unreachable: ~p", [L])
                 end,
         io:format("  ~s   Node.list() = ~s~n", [N, Shown])
     end || {N, L} <- Vs],
    halt(case Done(Vs) of true -> 0; false -> 1 end).'
}
export DEMO_NODES=$NODES

bold "a private epmd on 127.0.0.1:$port"
epmd -port "$port" -address 127.0.0.1 >"$DEMO_DIR/epmd.log" 2>&1 &
epmd_pid=$!
for _ in $(seq 50); do epmd -port "$port" -names >/dev/null 2>&1 && break; sleep 0.1; done

bold "three Elixir nodes, not connected to each other"
for n in $NODES; do
  HOME=$DEMO_DIR elixir --name "$n@127.0.0.1" --erl "-start_epmd false" \
    -e 'Process.sleep(:infinity)' >"$DEMO_DIR/$n.log" 2>&1 &
  pids+=($!)
  echo "  started $n@127.0.0.1 (pid $!)"
done
observe up || die "the nodes did not come up (see $DEMO_DIR/*.log)"
observe show

bold "clusterd run -c $CONFIG"
"$BIN" check -c "$CONFIG" | sed 's/^/  /'
"$BIN" run -c "$CONFIG" 2>"$DEMO_DIR/clusterd.log" &
clusterd_pid=$!
echo "  started clusterd (pid $clusterd_pid)"
observe mesh >"$DEMO_DIR/after.txt"
meshed=$?

bold "clusterd's log as the mesh formed"
sed -e 's/^time=[^ ]* //' "$DEMO_DIR/clusterd.log" | head -n 12 | sed 's/^/  /'

bold "each node's Node.list() now"
cat "$DEMO_DIR/after.txt"

bold "stopping clusterd (SIGTERM): the mesh stays"
kill -TERM "$clusterd_pid"
wait "$clusterd_pid"
echo "  clusterd exited with status $?"
clusterd_pid=
observe show

if [ $meshed -eq 0 ]; then
  bold "done: every node sees the other two"
else
  bold "the mesh did not form; logs are in $DEMO_DIR"
fi
exit $meshed

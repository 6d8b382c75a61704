#!/bin/sh
# CI recipe: start three Elixir nodes, let `clusterd form` mesh them, run the
# tests against the cluster, stop everything. The nodes and clusterd share
# ~/.erlang.cookie (made here if missing), so no cookie is on any command line.
# ERL_EPMD_PORT picks the port of the epmd this script starts for them (and
# stops at the end); the nodes start none of their own.
set -eu
CLUSTERD=${CLUSTERD:-priv/clusterd}
export ERL_EPMD_PORT="${ERL_EPMD_PORT:-4369}"
host=$(hostname -s)
nodes="a@$host,b@$host,c@$host"

[ -f "$HOME/.erlang.cookie" ] ||
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HOME/.erlang.cookie")

pids=""
stop() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT

epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1 &
pids="$pids $!"
for _ in $(seq 50); do epmd -names >/dev/null 2>&1 && break; sleep 0.1; done
for n in a b c; do
  iex --sname "$n" --erl "-start_epmd false -noinput" </dev/null >"$n.log" 2>&1 &
  pids="$pids $!"
done

# Retries until the three nodes are up and fully meshed; exit 1 after 30 s.
"$CLUSTERD" form --nodes "$nodes" --timeout 30000

# The test run (here: every node must see the other two).
elixir --sname "ci_check_$$" --hidden --erl "-start_epmd false" -e '
  nodes = System.argv() |> hd() |> String.split(",") |> Enum.map(&String.to_atom/1)
  for n <- nodes do
    peers = :erpc.call(n, Node, :list, []) |> Enum.sort()
    IO.puts("#{n} sees #{inspect(peers)}")
    if peers != Enum.sort(nodes -- [n]), do: System.halt(1)
  end' "$nodes"

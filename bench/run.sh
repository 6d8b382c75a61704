#!/usr/bin/env bash
# make bench: runs the benchmarks against real BEAM nodes and writes
# BENCHMARKS.md (numbers, the command, machine and date). No pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
tmp=$(mktemp -d /tmp/clusterd-bench.XXXXXX)
port=$((20000 + RANDOM % 10000))
epmd_pid=
cleanup() {
  [ -n "$epmd_pid" ] && kill "$epmd_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cookie=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
umask 077
printf '%s' "$cookie" > "$tmp/cookie"
export ERL_EPMD_PORT=$port BENCH_TMP=$tmp BENCH_COOKIE=$cookie
export CLUSTERD_BIN=${CLUSTERD_BIN:-$top/priv/clusterd}
epmd -port "$port" & epmd_pid=$!
sleep 0.3

echo "bench: running (several minutes; results in BENCHMARKS.md)" >&2
elixir --hidden --name "bench-$$@127.0.0.1" bench/mesh_bench.exs

# DNS discovery on pod-like hosts (network namespaces: needs root).
if [ "$(id -u)" -eq 0 ] && command -v named >/dev/null; then
  echo "bench: DNS discovery (record appears -> meshed)" >&2
  export BENCH_DNS_OUT=$tmp/dns.md CLUSTERD_TEST_TMP=$tmp/dns CLUSTERD_TEST_RUN="bench-$$"
  mkdir -p "$CLUSTERD_TEST_TMP"
  if elixir --hidden \
      --erl "-epmd_module Elixir.Clusterd.ObserverEpmd -setcookie observer-boot -start_epmd false +Bd" \
      bench/dns_bench.exs >"$tmp/dns.log" 2>&1; then
    cat "$BENCH_DNS_OUT" >> BENCHMARKS.md
  else
    echo "bench: DNS benchmark failed; log:" >&2
    tail -n 40 "$tmp/dns.log" >&2
  fi
else
  printf '\n## DNS discovery: record appears → pod meshed\n\nNot run: needs root (network namespaces) and bind9.\n' >> BENCHMARKS.md
fi


# Kubernetes discovery (API load vs libcluster's polling, watch event → meshed):
# appended as its own section.
kube_md=$tmp/kube.md
if BENCH_OUT=$kube_md bash bench/kube_bench.sh >&2 && [ -s "$kube_md" ]; then
  cat "$kube_md" >> BENCHMARKS.md
else
  echo "bench: the Kubernetes benchmarks failed; BENCHMARKS.md has no Kubernetes section" >&2
fi
cat BENCHMARKS.md

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
# BENCH_ONLY_TLS=1: only the TLS comparison (its section in BENCHMARKS.md is replaced).
if [ -z "${BENCH_ONLY_TLS:-}" ]; then
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
fi

# TLS next to plain TCP: one CA, one certificate for all members, one for the
# observer and one for clusterd (subjectAltName with the host as DNS and IP,
# as OTP's host name check wants), then the same measurements twice.
pki=$tmp/tls
mkdir -p "$pki"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
(cd "$pki" &&
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -subj /CN=bench-ca -days 2 &&
  printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\n' > san.ext &&
  for n in member observer clusterd; do
    openssl req "${ec[@]}" -keyout $n.key -out $n.csr -subj /CN=$n &&
    openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt \
      -days 2 -extfile san.ext || exit 1
    opts="{certfile, \"$pki/$n.crt\"}, {keyfile, \"$pki/$n.key\"}, {cacertfile, \"$pki/ca.crt\"}, {verify, verify_peer}"
    printf '[{server, [%s, {fail_if_no_peer_cert, true}]},\n {client, [{server_name_indication, disable}, %s]}].\n' \
      "$opts" "$opts" > $n.conf
  done) >/dev/null 2>&1 || { echo "bench: openssl failed" >&2; exit 1; }

BENCH_TRANSPORT=tcp elixir --hidden --name "bench-tcp-$$@127.0.0.1" bench/tls_bench.exs
BENCH_TRANSPORT=tls \
BENCH_MEMBER_ARGS="-proto_dist inet_tls -ssl_dist_optfile $pki/member.conf" \
BENCH_NODE_EXTRA=$'  tls:\n    certfile: '"$pki"$'/clusterd.crt\n    keyfile: '"$pki"$'/clusterd.key\n    cacertfile: '"$pki"$'/ca.crt' \
  elixir --hidden --name "bench-tls-$$@127.0.0.1" \
  --erl "-proto_dist inet_tls -ssl_dist_optfile $pki/observer.conf" bench/tls_bench.exs

# Kubernetes discovery (API load vs libcluster's polling, watch event → meshed):
# appended as its own section.
kube_md=$tmp/kube.md
if BENCH_OUT=$kube_md bash bench/kube_bench.sh >&2 && [ -s "$kube_md" ]; then
  cat "$kube_md" >> BENCHMARKS.md
else
  echo "bench: the Kubernetes benchmarks failed; BENCHMARKS.md has no Kubernetes section" >&2
fi
# --- part: member farm (bench/farm_bench.sh) ---
# clusterd against 100, 1,000 and 5,000 simulated members (one BEAM plays them
# all); its section is replaced between <!-- part:farm --> markers.
farm_md=$tmp/farm.md
if BENCH_OUT=$farm_md bash bench/farm_bench.sh >&2 && [ -s "$farm_md" ]; then
  sed -i '/<!-- part:farm -->/,/<!-- \/part:farm -->/d' BENCHMARKS.md
  cat "$farm_md" >> BENCHMARKS.md
else
  echo "bench: the member farm benchmark failed; BENCHMARKS.md has no farm section" >&2
fi
# --- end part: member farm ---
cat BENCHMARKS.md

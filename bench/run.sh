#!/usr/bin/env bash
# make bench: runs the benchmarks against real BEAM nodes and writes their
# numbers into BENCHMARKS.md. No pass/fail.
#
# The benchmarks come in parts. A part is a shell function part_NAME that
# writes its Markdown section (from its "## " heading on) to the file given as
# $1 and returns 0; run.sh then replaces that part's section in BENCHMARKS.md,
# the lines between "<!-- part:NAME -->" and "<!-- /part:NAME -->" (appended
# at the end when absent), and adds a line with the command, machine, date,
# commit and run time. Rerunning one part never touches the others; a part
# that fails leaves its old section as it was.
#
#   make bench                                  # every part
#   BENCH_PARTS="libcluster libcluster_load" make bench
#
# Adding a part: define part_NAME below (it is picked up by itself; `parts`
# only fixes the order of the known ones).
set -euo pipefail
cd "$(dirname "$0")/.."
renice -n 10 $$ >/dev/null 2>&1 || true # the machine is shared: every part runs niced
top=$(pwd)
tmp=$(mktemp -d /tmp/clusterd-bench.XXXXXX)
port=$((20000 + RANDOM % 10000))
epmd_pid=
cleanup() {
  if [ -n "$epmd_pid" ]; then kill "$epmd_pid" 2>/dev/null || true; fi
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

# Sources of libcluster and its two dependencies, built into a temporary
# directory at bench time (never part of this repository; no Hex, no network).
mirror=/work/.mirror
for v in LIBCLUSTER:bitwalker+libcluster JASON:michalmuskala+jason TELEMETRY:beam-telemetry+telemetry; do
  var=${v%%:*}_SRC
  [ -z "${!var:-}" ] && [ -d "$mirror/${v#*:}/repo" ] && export "$var=$mirror/${v#*:}/repo"
done

# -- the parts ---------------------------------------------------------------

part_mesh() { # cold start, floor, heal, idle resources (real erl nodes on loopback)
  BENCH_OUT=$1 elixir --hidden --name "bench-$$@127.0.0.1" bench/mesh_bench.exs
}

part_churn() { # clusterd's CPU, RSS and fds while members die and links drop
  BENCH_OUT=$1 elixir --hidden --name "bench-churn-$$@127.0.0.1" bench/churn_bench.exs
}

part_dns() { # DNS discovery on pod-like hosts (network namespaces: needs root)
  if [ "$(id -u)" -ne 0 ] || ! command -v named >/dev/null; then
    printf '## DNS discovery: record appears → pod meshed\n\nNot run: needs root (network namespaces) and bind9.\n' > "$1"
    return 0
  fi
  mkdir -p "$tmp/dns"
  if ! BENCH_DNS_OUT=$1 CLUSTERD_TEST_TMP=$tmp/dns CLUSTERD_TEST_RUN="bench-$$" elixir --hidden \
      --erl "-epmd_module Elixir.Clusterd.ObserverEpmd -setcookie observer-boot -start_epmd false +Bd" \
      bench/dns_bench.exs >"$tmp/dns.log" 2>&1; then
    tail -n 40 "$tmp/dns.log" >&2
    return 1
  fi
}

part_tls() { # TLS distribution next to plain TCP: the same measurements twice
  # One CA, one certificate for all members, one for the observer and one for
  # clusterd (subjectAltName with the host as DNS and IP, as OTP's host name
  # check wants).
  local pki=$tmp/tls n opts
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  mkdir -p "$pki"
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
    done) >/dev/null 2>&1 || { echo "bench: openssl failed" >&2; return 1; }

  BENCH_TRANSPORT=tcp elixir --hidden --name "bench-tcp-$$@127.0.0.1" bench/tls_bench.exs
  BENCH_OUT=$1 BENCH_TRANSPORT=tls \
  BENCH_MEMBER_ARGS="-proto_dist inet_tls -ssl_dist_optfile $pki/member.conf" \
  BENCH_NODE_EXTRA=$'  tls:\n    certfile: '"$pki"$'/clusterd.crt\n    keyfile: '"$pki"$'/clusterd.key\n    cacertfile: '"$pki"$'/ca.crt' \
    elixir --hidden --name "bench-tls-$$@127.0.0.1" \
    --erl "-proto_dist inet_tls -ssl_dist_optfile $pki/observer.conf" bench/tls_bench.exs
}

part_kube() { # Kubernetes API: clusterd's load, watch event → meshed (needs root)
  BENCH_OUT=$1 bash bench/kube_bench.sh >&2
}

# 0 when the sources of libcluster, jason and telemetry are all there.
libcluster_sources() {
  [ -e "${LIBCLUSTER_SRC:-/nonexistent}" ] && [ -e "${JASON_SRC:-/nonexistent}" ] &&
    [ -e "${TELEMETRY_SRC:-/nonexistent}" ]
}

part_libcluster() { # the same members meshed by clusterd and by libcluster
  if ! libcluster_sources; then
    printf '## Side by side with libcluster\n\nNot run: libcluster source not found (set LIBCLUSTER_SRC, JASON_SRC and TELEMETRY_SRC to its source and that of jason and telemetry; see README, Performance).\n' > "$1"
    return 0
  fi
  local ebin
  ebin=$(bash bench/libcluster_build.sh "$tmp/libcluster") || return 1
  BENCH_OUT=$1 BENCH_LIBCLUSTER_EBIN=$ebin \
    elixir --hidden --name "bench-libcl-$$@127.0.0.1" bench/libcluster_bench.exs
}

part_libcluster_load() { # libcluster's Kubernetes and Kubernetes.DNS strategies polling, measured
  if ! libcluster_sources; then
    printf '## API and DNS load, measured: libcluster next to clusterd\n\nNot run: libcluster source not found (set LIBCLUSTER_SRC, JASON_SRC and TELEMETRY_SRC; see README, Performance).\n' > "$1"
    return 0
  fi
  local ebin
  ebin=$(bash bench/libcluster_build.sh "$tmp/libcluster") || return 1
  BENCH_OUT=$1 BENCH_LIBCLUSTER_EBIN=$ebin CLUSTERD_TEST_ENTRY=bench/libcluster_load_bench.exs \
    bash test/run-integration.sh >&2
}

part_farm() { # clusterd against 100, 1,000 and 5,000 simulated members (one BEAM plays them)
  BENCH_OUT=$1 bash bench/farm_bench.sh >&2
}

# -- running them ------------------------------------------------------------

parts="mesh churn dns tls kube libcluster libcluster_load farm"
for f in $(declare -F | awk '$3 ~ /^part_/ { sub(/^part_/, "", $3); print $3 }'); do
  case " $parts " in *" $f "*) ;; *) parts="$parts $f" ;; esac
done
wanted=${BENCH_PARTS:-$parts}

machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), \
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), shared with other engineers' \
builds and tests while it ran; OTP $(erl -noshell -eval 'io:put_chars(erlang:system_info(otp_release)), halt().')"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# BENCHMARKS.md itself does not count: the parts rewrite it
if [ -n "$(git status --porcelain -- . ':!BENCHMARKS.md' 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi

[ -f BENCHMARKS.md ] || printf '# clusterd benchmarks\n\nWritten by `make bench` (bench/run.sh), one section per part; each section says how, where and when it was made.\n' > BENCHMARKS.md

# Replaces (or appends) the section of part $1 with the file $2.
splice() {
  local frag=$2 begin="<!-- part:$1 -->" end="<!-- /part:$1 -->"
  if grep -qxF "$begin" BENCHMARKS.md; then
    awk -v b="$begin" -v e="$end" -v frag="$frag" '
      $0 == b { print; while ((getline l < frag) > 0) print l; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' BENCHMARKS.md > "$tmp/BENCHMARKS.md"
    cat "$tmp/BENCHMARKS.md" > BENCHMARKS.md
  else
    { printf '\n%s\n' "$begin"; cat "$frag"; printf '%s\n' "$end"; } >> BENCHMARKS.md
  fi
}

echo "bench: parts: $wanted (several minutes each; results in BENCHMARKS.md)" >&2
for p in $wanted; do
  if ! declare -F "part_$p" >/dev/null; then
    echo "bench: no part '$p' (known: $parts)" >&2
    continue
  fi
  out=$tmp/$p.md
  : > "$out"
  echo "bench: part $p" >&2
  t0=$(date +%s)
  if "part_$p" "$out" && [ -s "$out" ]; then
    printf '\nCommand: `BENCH_PARTS=%s make bench` (nice); %s; %s; commit `%s`; this part took %d s.\n' \
      "$p" "$machine" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$commit" $(($(date +%s) - t0)) >> "$out"
    splice "$p" "$out"
  else
    echo "bench: part $p failed; its section in BENCHMARKS.md is left as it was" >&2
  fi
done
cat BENCHMARKS.md

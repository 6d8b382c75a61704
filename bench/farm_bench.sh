#!/usr/bin/env bash
# Member farm benchmark: clusterd against N simulated members played by one
# BEAM process (bench/farm/farm.erl: fake EPMD, hand-made distribution
# handshake, the RPCs and forwarder messages clusterd uses, virtual
# member-to-member links). Measures, per size: cold start to full mesh (as
# the farm sees it), RPCs per member counted at the members, RPCs and
# forwarder messages per steady minute, clusterd's CPU, reconcile passes,
# RSS, fds, and the heal of one dropped link. Writes Markdown to $BENCH_OUT.
#
# Env: FARM_SIZES (default "100 1000 5000"), FARM_STEADY_S (default 120),
# CLUSTERD_BIN (default priv/clusterd), BENCH_OUT (default stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
bin=${CLUSTERD_BIN:-$top/priv/clusterd}
sizes=${FARM_SIZES:-100 1000 5000}
steady=${FARM_STEADY_S:-120}
out=${BENCH_OUT:-/dev/stdout}
tmp=$(mktemp -d /tmp/clusterd-farm.XXXXXX)
farm_pid= cd_pid=
cleanup() {
  [ -n "$cd_pid" ] && kill "$cd_pid" 2>/dev/null || true
  [ -n "$farm_pid" ] && kill "$farm_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

erlc -o "$tmp" bench/farm/farm.erl
umask 077
head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$tmp/cookie"
base=$((20000 + RANDOM % 10000)) # below the ephemeral range the members listen in
epmd_port=$base ctl_port=$((base + 1)) http_port=$((base + 2))
hz=$(getconf CLK_TCK)

now_ms() { date +%s%3N; }
# farmctl CMD: one request on the farm's control socket; prints "key value" lines.
farmctl() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$ctl_port" || return 1
  printf '%s\n' "$1" >&3
  while IFS= read -r -t 60 line <&3; do
    [ "$line" = end ] && break
    printf '%s\n' "$line"
  done
  exec 3<&-
}
stat_of() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
vm_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
metric() { curl -s --max-time 10 "http://127.0.0.1:$http_port/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
rpcs_metric() { curl -s --max-time 10 "http://127.0.0.1:$http_port/metrics" |
  awk '/^clusterd_rpcs_total/ { s += $2 } END { print s + 0 }'; }

rows_cold= rows_steady= rows_res= rows_heal=
for n in $sizes; do
  echo "farm: $n members" >&2
  (ulimit -n "$(ulimit -Hn)"; ERL_CRASH_DUMP=/dev/null exec nice erl +P 2000000 -noshell -pa "$tmp" -s farm start \
    -extra "$n" "$epmd_port" "$ctl_port" "$tmp/cookie") >"$tmp/farm-$n.log" 2>&1 &
  farm_pid=$!
  for _ in $(seq 1 600); do
    grep -q "members up" "$tmp/farm-$n.log" 2>/dev/null && break
    kill -0 "$farm_pid" 2>/dev/null || { cat "$tmp/farm-$n.log" >&2; exit 1; }
    sleep 0.2
  done
  {
    printf 'node:\n  name: clusterd@127.0.0.1\n  cookie_file: %s\n' "$tmp/cookie"
    printf 'http:\n  listen: "127.0.0.1:%s"\n' "$http_port"
    printf 'topologies:\n  farm:\n    strategy: Cluster.Strategy.Epmd\n    config:\n      hosts:\n'
    for i in $(seq 1 "$n"); do printf '        - m%d@127.0.0.1\n' "$i"; done
  } > "$tmp/clusterd-$n.yaml"

  t0=$(now_ms)
  ERL_EPMD_PORT=$epmd_port nice "$bin" run -c "$tmp/clusterd-$n.yaml" >"$tmp/clusterd-$n.log" 2>&1 &
  cd_pid=$!
  limit=$((n < 1000 ? 120 : n < 5000 ? 300 : 900))
  meshed=0
  while [ $(( ($(now_ms) - t0) / 1000 )) -lt "$limit" ]; do
    s=$(farmctl stats)
    fm=$(stat_of "$s" full_mesh_ms)
    if [ -n "$fm" ] && [ "$fm" != 0 ]; then meshed=1; break; fi
    kill -0 "$cd_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ "$meshed" = 0 ]; then
    echo "farm: $n members: no full mesh within $limit s" >&2
    tail -n 5 "$tmp/clusterd-$n.log" >&2
    links=$(stat_of "$s" links) want=$(stat_of "$s" want)
    rows_cold+="| $n | not reached in $limit s ($links of $want directed links) | – | – | – | – | – |"$'\n'
    kill "$cd_pid" "$farm_pid" 2>/dev/null || true
    wait "$cd_pid" "$farm_pid" 2>/dev/null || true
    cd_pid= farm_pid=
    continue
  fi
  cold_ms=$((fm - t0))
  sleep 5 # late replies and the last events
  s1=$(farmctl stats)
  cpu1=$(cpu_ticks "$cd_pid")
  rc1=$(metric clusterd_reconcile_duration_seconds_count)
  rs1=$(metric clusterd_reconcile_duration_seconds_sum)
  rcpu1=$(metric clusterd_reconcile_cpu_seconds_total)
  mr1=$(rpcs_metric)
  rpcs=$(stat_of "$s1" rpcs)
  rows_cold+="| $n | $cold_ms | $rpcs | $(awk -v a="$rpcs" -v n="$n" 'BEGIN { printf "%.2f", a / n }') | $(stat_of "$s1" rpcs_max_member) | $((cpu1 * 1000 / hz)) | $(awk -v c="${rcpu1:-0}" -v p="${rc1:-0}" 'BEGIN { printf "%.0f in %d passes", c * 1000, p }') |"$'\n'

  echo "farm: $n members meshed in $cold_ms ms; steady for $steady s" >&2
  # VmRSS and RssAnon once a second through the steady period: a planning
  # pass maps its matrices (3 x n^2 bits) for a moment, so one reading may
  # land on it; the table gives the median and the largest.
  : > "$tmp/rss-$n"
  end_s=$(( $(date +%s) + steady ))
  while [ "$(date +%s)" -lt "$end_s" ]; do
    echo "$(vm_kb "$cd_pid" VmRSS) $(vm_kb "$cd_pid" RssAnon) $(vm_kb "$cd_pid" RssFile)" >> "$tmp/rss-$n"
    sleep 1
  done
  s2=$(farmctl stats)
  cpu2=$(cpu_ticks "$cd_pid")
  rc2=$(metric clusterd_reconcile_duration_seconds_count)
  rs2=$(metric clusterd_reconcile_duration_seconds_sum)
  rcpu2=$(metric clusterd_reconcile_cpu_seconds_total)
  mr2=$(rpcs_metric)
  d() { echo $(( $(stat_of "$s2" "$1") - $(stat_of "$s1" "$1") )); }
  per_min() { awk -v v="$1" -v s="$steady" 'BEGIN { printf "%.1f", v * 60 / s }'; }
  passes=$((rc2 - rc1))
  rows_steady+="| $n | $(per_min "$(d rpcs)") | $(per_min $((mr2 - mr1))) | $(per_min "$(d resync)") | $(per_min "$(d snapshots)") | $(awk -v b="$(d bytes_out)" -v s="$steady" 'BEGIN { printf "%.2f", b * 60 / s / 1048576 }') | $(per_min "$passes") | $(awk -v a="$rs1" -v b="$rs2" -v p="$passes" 'BEGIN { if (p > 0) printf "%.1f", (b - a) * 1000 / p; else printf "–" }') | $(awk -v a="${rcpu1:-0}" -v b="${rcpu2:-0}" -v p="$passes" 'BEGIN { if (p > 0) printf "%.1f", (b - a) * 1000 / p; else printf "–" }') | $(awk -v c=$((cpu2 - cpu1)) -v hz="$hz" -v s="$steady" 'BEGIN { printf "%.0f", c * 1000 / hz * 60 / s }') |"$'\n'
  mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
  # median of column $1 of the samples
  rss_med() { awk -v c="$1" '{ print $c }' "$tmp/rss-$n" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  rss_max() { awk -v c="$1" '$c > m { m = $c } END { print m + 0 }' "$tmp/rss-$n"; }
  rss_kb=$(rss_med 1)
  rows_res+="| $n | $(mib "$rss_kb") | $(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }') | $(mib "$(rss_med 2)") | $(mib "$(rss_med 3)") | $(mib "$(rss_max 1)") | $(mib "$(vm_kb "$cd_pid" VmHWM)") | $(ls "/proc/$cd_pid/fd" | wc -l) |"$'\n'

  # Heal of one dropped virtual link (both sides get nodedown).
  a=$((1 + RANDOM % n)) b=$((1 + (a + RANDOM % (n - 1)) % n))
  r0=$(stat_of "$(farmctl stats)" rpcs)
  farmctl "drop m$a@127.0.0.1 m$b@127.0.0.1" >/dev/null
  healed=
  for _ in $(seq 1 300); do
    h=$(farmctl stats)
    if [ -n "$(stat_of "$h" drop_ms)" ] && [ "$(stat_of "$h" full_mesh_ms)" -ge "$(stat_of "$h" drop_ms)" ]; then
      healed=$(( $(stat_of "$h" full_mesh_ms) - $(stat_of "$h" drop_ms) ))
      break
    fi
    sleep 0.1
  done
  rows_heal+="| $n | ${healed:-not healed in 30 s} | $(( $(stat_of "$(farmctl stats)" rpcs) - r0 )) |"$'\n'

  kill "$cd_pid" 2>/dev/null || true
  wait "$cd_pid" 2>/dev/null || true
  cd_pid=
  farmctl quit >/dev/null 2>&1 || true
  wait "$farm_pid" 2>/dev/null || true
  farm_pid=
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
cat >"$out" <<EOF

## Member farm: clusterd at 100, 1,000 and 5,000 simulated members

Command: \`FARM_SIZES="$sizes" FARM_STEADY_S=$steady bash bench/farm_bench.sh\` (also run by
\`make bench\`), on $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$commit\`, on this project's machine:
$(nproc) cores ($cpu), **shared** with other engineers' builds and tests while it ran,
clusterd and the farm both under \`nice\`. One BEAM process (\`bench/farm/farm.erl\`) plays
every member: its own EPMD, one listening port and a hand-made distribution handshake per
member, the RPCs clusterd sends and the event forwarder's messages; the links between members
are virtual (a bit matrix), so each \`connect_node\` costs the farm microseconds and what is
measured is clusterd's own cost. RPCs are counted where they arrive, at the members.
One static topology (\`Cluster.Strategy.Epmd\` with every name in \`hosts\`), default
settings (safety-net poll every 10 s).

### Cold start

Clock from clusterd's launch to the farm's last virtual link (every member linked to every
other). RPCs counted 5 s after that. CPU is clusterd's user+system time from launch to then.

| members | cold start ms | RPCs | RPCs per member | most RPCs on one member | clusterd CPU ms | of which planning (reconcile) CPU ms |
|---|---|---|---|---|---|---|
${rows_cold}
Target: ≤ 2 RPCs per member.

### Steady state ($steady s with nothing to do)

| members | RPCs/min (farm) | RPCs/min (clusterd metric) | resync msgs/min | nodes() snapshots/min | MiB/min members → clusterd | reconcile passes/min | ms per pass (wall) | ms CPU per pass | clusterd CPU ms/min |
|---|---|---|---|---|---|---|---|---|---|
${rows_steady}
The safety-net poll is a plain message \`{clusterd_resync, Cr}\` to each member's forwarder
(not an RPC); the forwarder answers \`{clusterd_unchanged, ...}\` when its real \`nodes()\` is what it
has reported, the whole list only when it differs (the "nodes() snapshots" column). Targets: 0 RPCs per steady minute
beyond the poll; reconcile ≤ 50 ms CPU at 1,000 members.

### Resources (after the steady period)

| members | VmRSS MiB | VmRSS MB | of which heap and stacks (RssAnon) MiB | of which shared libraries (RssFile) MiB | largest VmRSS reading MiB | VmHWM MiB | open fds |
|---|---|---|---|---|---|---|---|
${rows_res}
VmRSS, RssAnon and RssFile are medians of one reading a second through the steady period;
"largest" is the highest reading (a planning pass maps its three n × n bit matrices, 9 MiB at
5,000, for the pass), VmHWM the peak of the whole run (the cold start).
Target: RSS ≤ 20 MB at 5,000. RssFile is the pages of the shared libraries that clusterd
touched (OpenSSL, GnuTLS loaded by libmicrohttpd, libcurl and theirs, libc): ≈ 7.4 MiB
whatever the size, shared with every other process that maps them.

### Heal of one dropped link

The farm cuts one random virtual link (both members' forwarders report nodedown); time until
the farm sees it made again, and the RPCs that took.

| members | heal ms | RPCs |
|---|---|---|
${rows_heal}$(cat bench/farm/history.md 2>/dev/null)
EOF

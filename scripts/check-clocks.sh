#!/usr/bin/env bash
# Every timeout, backoff, deadline and rate in clusterd runs on CLOCK_MONOTONIC
# (libuv's uv_now/uv_hrtime, transport_now_ms), so that a jump of the wall
# clock (NTP step, a VM resumed, an operator's `date -s`) changes nothing but
# log timestamps. This check fails on any read of the wall clock in c_src/
# that is not marked, on the same line or one of the two lines above, with a
# comment "wall clock: <why wall time is what is wanted here>".
set -u
cd "$(dirname "$0")/.."
pattern='CLOCK_REALTIME|CLOCK_TAI|gettimeofday|[^_a-z]time\((NULL|0|&)|[^_a-z]ftime\(|[^_a-z]clock\(\)'
status=0
while IFS=: read -r file line _; do
  from=$((line > 2 ? line - 2 : 1))
  if ! sed -n "${from},${line}p" "$file" | grep -q 'wall clock:'; then
    echo "check-clocks: $file:$line reads the wall clock without a 'wall clock:' reason:" >&2
    sed -n "${line}p" "$file" >&2
    status=1
  fi
done < <(grep -rnE "$pattern" c_src --include='*.c' --include='*.h')
[ $status -eq 0 ] && echo "check-clocks: every wall-clock read in c_src/ is marked"
exit $status

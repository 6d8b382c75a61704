#!/usr/bin/env bash
# Runs the integration tests (ExUnit) against $CLUSTERD_BIN (default
# priv/clusterd). The observer is a hidden BEAM that starts every epmd, member
# node and clusterd itself, each test on its own epmd port. Exit status is
# ExUnit's: 0 when every test passed.
#
#   test/run-integration.sh              # every test/integration/*_test.exs
#   test/run-integration.sh heal status  # only files whose name contains "heal" or "status"
#   TRACE=1 test/run-integration.sh      # one line per test, with timings
#   CLUSTERD_TEST_ENTRY=bench/kube_bench.exs test/run-integration.sh
#                                        # another entry script (benchmarks
#                                        # that need the harness)
set -u
cd "$(dirname "$0")/.."

export CLUSTERD_BIN=${CLUSTERD_BIN:-priv/clusterd}
case "$CLUSTERD_BIN" in
  *asan*) label=asan
          export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
          export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} ;;
  *valgrind*) label=valgrind ;;
  *) label=release ;;
esac
export CLUSTERD_TEST_RUN="run-$(date +%Y%m%d-%H%M%S)-$$"
if [ -z "${CLUSTERD_TEST_TMP:-}" ]; then
  # One directory per run (runs may overlap on a shared checkout); keep the
  # newest five, and a `latest` link.
  parent=$PWD/test/tmp/integration-$label
  mkdir -p "$parent"
  # Older runs go, but never one touched in the last hour: it may still be
  # running beside this one.
  ls -1d "$parent"/run-* 2>/dev/null | sort | head -n -4 |
    while read -r d; do [ -n "$(find "$d" -maxdepth 0 -mmin +60)" ] && rm -rf "$d"; done
  export CLUSTERD_TEST_TMP=$parent/$CLUSTERD_TEST_RUN
  ln -sfn "$CLUSTERD_TEST_RUN" "$parent/latest"
fi
mkdir -p "$CLUSTERD_TEST_TMP"

# Safety net if the observer dies before its on_exit callbacks ran: every
# process the harness started (and anything those started) carries this run's
# unique CLUSTERD_TEST_RUN in its environment; kill, by pid, only those.
reap() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if tr '\0' '\n' 2>/dev/null < "$f" | grep -qx "CLUSTERD_TEST_RUN=$CLUSTERD_TEST_RUN"; then
      echo "run-integration: killing leftover process $pid" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  done
}
# Namespaces and bridges of pod-like hosts (test/support/pods.exs) that the
# tests' own cleanup did not get to remove.
reap_netns() {
  local kind name f=$CLUSTERD_TEST_TMP/netns
  [ -f "$f" ] || return 0
  while read -r kind name; do
    case $kind in
      netns) ip netns del "$name" 2>/dev/null && echo "run-integration: removed namespace $name" >&2
             rm -rf "/etc/netns/$name" ;;
      link) ip link del "$name" 2>/dev/null && echo "run-integration: removed bridge $name" >&2 ;;
    esac
  done < "$f"
}
trap 'reap; reap_netns' EXIT
trap 'exit 130' INT TERM

echo "== integration tests: $CLUSTERD_BIN (logs in $CLUSTERD_TEST_TMP)"
# No --name here: the harness starts distribution itself once the observer's
# EPMD module is loaded (the observer registers in no epmd and spawns none).
elixir --hidden \
  --erl "-epmd_module Elixir.Clusterd.ObserverEpmd -proto_dist inet_tcp inet6_tcp -setcookie observer-boot -start_epmd false +Bd" \
  "${CLUSTERD_TEST_ENTRY:-test/integration/test_helper.exs}" "$@"
status=$?
exit $status

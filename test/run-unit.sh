#!/usr/bin/env bash
# Runs every cmocka unit test binary in the given directory; fails if any fails.
set -u
dir=${1:?usage: run-unit.sh BUILD_UNIT_DIR}
status=0
for t in "$dir"/test_*; do
  [ -x "$t" ] || continue
  echo "== unit: $(basename "$t")"
  "$t" 2>&1 || status=1
done
exit $status

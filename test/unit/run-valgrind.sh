#!/usr/bin/env bash
# Runs every cmocka unit test binary in the given directory (normally
# build/release/unit) under valgrind; fails if any test fails or valgrind
# reports an error or a definite/indirect leak. ASan builds cannot run under
# valgrind: give the release build's directory.
set -u
dir=${1:?usage: run-valgrind.sh BUILD_UNIT_DIR}
command -v valgrind >/dev/null || { echo "run-valgrind.sh: valgrind is not installed" >&2; exit 2; }
status=0
found=0
for t in "$dir"/test_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  found=1
  echo "== valgrind: $(basename "$t")"
  if ! valgrind --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect -q "$t" 2>&1; then
    echo "== valgrind: $(basename "$t") FAILED"
    status=1
  fi
done
if [ "$found" = 0 ]; then
  echo "run-valgrind.sh: no test_* binaries in $dir" >&2
  exit 2
fi
exit $status

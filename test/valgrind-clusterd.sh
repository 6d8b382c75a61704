#!/usr/bin/env bash
# A clusterd that runs priv/clusterd under valgrind's memcheck, for
# `make valgrind` (CLUSTERD_BIN=test/valgrind-clusterd.sh). Each error is
# printed to clusterd's stderr (its log) between VALGRIND-ERROR-BEGIN/END
# lines, which the harness treats as a sanitizer report and fails the test;
# a definite leak at exit is an error too, and any error makes the exit
# status 99 where the test expected 0. VALGRIND_OPTS adds options.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2086
exec valgrind --quiet --error-markers=VALGRIND-ERROR-BEGIN,VALGRIND-ERROR-END \
  --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --error-exitcode=99 --child-silent-after-fork=yes ${VALGRIND_OPTS:-} \
  "${CLUSTERD_VALGRIND_TARGET:-$here/../priv/clusterd}" "$@"

#!/usr/bin/env bash
# Every test, in stages: unit tests (release, then ASan+UBSan), then the
# integration suite against priv/clusterd and again against the sanitized
# build/asan/clusterd, then a short run of each fuzz target (fuzz/Makefile's
# fuzz-smoke). Called by `make test` after `make build asan`.
# Prints one plain summary line "N passed, M failed" (stages) and exits 1 if
# any stage failed.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_names=()

stage() {
  local name=$1
  shift
  echo
  echo "=== stage: $name"
  if "$@"; then
    echo "=== stage $name: passed"
    passed=$((passed + 1))
  else
    echo "=== stage $name: FAILED"
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
}

asan_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1)

stage "lint (cppcheck, clang-format, wall-clock check)" make -s lint
stage "unit (release)" \
  bash -c 'make -C c_src unit && bash test/run-unit.sh build/release/unit'
stage "unit (asan)" \
  env "${asan_env[@]}" bash -c 'make -C c_src MODE=asan unit && bash test/run-unit.sh build/asan/unit'
stage "unit (valgrind)" \
  bash test/unit/run-valgrind.sh build/release/unit
stage "deploy (kubectl kustomize k8s/, Dockerfile runtime libraries)" \
  bash test/deploy/run.sh
stage "integration (priv/clusterd)" \
  env CLUSTERD_BIN=priv/clusterd bash test/run-integration.sh
stage "integration (build/asan/clusterd)" \
  env "${asan_env[@]}" CLUSTERD_BIN=build/asan/clusterd bash test/run-integration.sh
if [ -f fuzz/Makefile ]; then
  stage "fuzz (smoke)" make -C fuzz fuzz-smoke
fi

echo
if [ "$failed" -gt 0 ]; then
  echo "failed stages: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

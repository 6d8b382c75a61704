#!/usr/bin/env bash
# The Kubernetes discovery benchmarks (bench/kube_bench.exs) under the
# integration harness (its safety nets for processes and namespaces), with
# the markdown section written to $BENCH_OUT. Needs root (network namespaces).
set -uo pipefail
cd "$(dirname "$0")/.."
export BENCH_OUT=${BENCH_OUT:-$(mktemp /tmp/clusterd-kube-bench.XXXXXX.md)}
CLUSTERD_TEST_ENTRY=bench/kube_bench.exs bash test/run-integration.sh

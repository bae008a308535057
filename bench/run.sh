#!/usr/bin/env bash
# Runs every benchmark binary of a build and prints its table.
# Usage: bench/run.sh BUILD_DIR. Figures worth keeping go to bench/RESULTS.md
# with the command that produced them. Programs that are not Google Benchmark
# (replication_bench) accept and ignore the --benchmark_* flag.
set -euo pipefail
build=${1:-build}
for b in "$build"/bench/*_bench; do
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.2
done
echo "== redis_compare (one node against redis-server, appendfsync everysec)"
"$(dirname "$0")/redis_compare.sh" "$build" 20000 2
echo "== tls_compare (one node with TLS against one without, same redis-benchmark)"
"$(dirname "$0")/tls_compare.sh" "$build" 20000 2

#!/usr/bin/env bash
# Issue 8 item 4: one node with --fsync batch against one with --fsync
# always, alternating, under the same redis-benchmark SET load (50 clients,
# -P 1); WAL syncs are counted by running each node under strace with a
# seccomp filter (only fsync/fdatasync stop the process), so writes per sync
# = SETs acknowledged / sync calls.
# Usage: bench/durable_compare.sh [build-dir] [requests] [rounds]
set -euo pipefail
build=${1:-build}
n=${2:-50000}
rounds=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_BUILD=$build
source "$here/bench/lib.sh"
"$here/.ci/deps.sh" strace redis-tools >/dev/null
bench_root=$(bench_tmpdir)
declare -A rps wps port
for mode in batch always; do
  port[$mode]=$(bench_free_port)
  strace -f --seccomp-bpf -e trace=fsync,fdatasync -qq -o "$bench_root/$mode.strace" \
    "$here/$build/converge" serve --name "$mode" --data-dir "$bench_root/$mode" \
    --port "${port[$mode]}" --peer-port $((port[$mode] + 10000)) --fsync "$mode" --log-level warn \
    >"$bench_root/$mode.log" 2>&1 &
  tracer=$!
  # strace does not pass SIGTERM on to the node: stop the node itself first.
  for _ in $(seq 100); do node=$(pgrep -P "$tracer" || true); [ -n "$node" ] && break; sleep 0.05; done
  bench_pids+=("$node" "$tracer")
done
for mode in batch always; do bench_wait_ping "${port[$mode]}"; done
echo "  redis-benchmark -c 50 -P 1 -n $n -r 100000 -t set, $rounds rounds alternating; syncs by strace"
for r in $(seq "$rounds"); do
  for mode in batch always; do
    before=$(grep -cE 'f(data)?sync\(' "$bench_root/$mode.strace" || true)
    x=$(redis-benchmark -p "${port[$mode]}" -c 50 -P 1 -n "$n" -r 100000 -t set --csv 2>/dev/null |
      tr -d '"' | awk -F, 'NR>1 {print $2}')
    sleep 0.2
    after=$(grep -cE 'f(data)?sync\(' "$bench_root/$mode.strace" || true)
    w=$(bench_ratio "$n" $((after - before)))
    echo "    $mode: $x SET/s, $((after - before)) syncs, $w writes/sync"
    rps[$mode]+="$x "; wps[$mode]+="$w "
  done
done
b=$(echo "${rps[batch]}" | tr ' ' '\n' | bench_median); a=$(echo "${rps[always]}" | tr ' ' '\n' | bench_median)
bw=$(echo "${wps[batch]}" | tr ' ' '\n' | bench_median); aw=$(echo "${wps[always]}" | tr ' ' '\n' | bench_median)
echo "  batch $b SET/s ($bw writes/sync), always $a SET/s ($aw writes/sync)"
# The issue names no number for item 4; batch must at least beat always.
bench_record 4 "throughput --fsync batch / always" "$(bench_ratio "$b" "$a")" ge 1
bench_record 4 "writes per WAL sync, batch (always: $aw)" "$bw" ge 1

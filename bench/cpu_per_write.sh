#!/usr/bin/env bash
# Where the CPU of a replicated write goes: three nodes (`serve --fsync
# everysec`, the first seeded to the other two, as in issue 8 item 2), one
# redis-benchmark command against the first, and each node's CPU (user +
# system, all its threads, from /proc/PID/stat) over the run, per request and
# as a share of one core. On a 2-core machine the three nodes and the client
# share the cores, so the sum over the nodes bounds the cluster's throughput
# (2 cores / that sum, less the client's share).
# Usage: bench/cpu_per_write.sh [build-dir] [redis-benchmark args...]
#   default args: -n 1000000 -r 100000 -c 50 -P 16 -t incr
set -euo pipefail
build=${1:-build}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-n 1000000 -r 100000 -c 50 -P 16 -t incr)
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_BUILD=$build
source "$here/bench/lib.sh"
"$here/.ci/deps.sh" redis-tools >/dev/null
bench_root=$(bench_tmpdir)
requests=$(printf '%s\n' "${args[@]}" | awk 'prev == "-n" { print; exit } { prev = $0 }')
[ -n "$requests" ] || { echo "give -n N among the redis-benchmark arguments" >&2; exit 2; }

p0=$(bench_free_port); p1=$(bench_free_port); p2=$(bench_free_port)
bench_converge origin "$p0" --fsync everysec; pids=("$bench_last_pid")
bench_converge peer1 "$p1" --fsync everysec --seeds 127.0.0.1:$((p0 + 10000)); pids+=("$bench_last_pid")
bench_converge peer2 "$p2" --fsync everysec --seeds 127.0.0.1:$((p0 + 10000)); pids+=("$bench_last_pid")
for p in $p0 $p1 $p2; do bench_wait_ping "$p"; done
for _ in $(seq 200); do
  redis-cli -p "$p0" info replication | grep -q 'peers_connected:2' && break; sleep 0.05
done

ticks() { local p; for p in "${pids[@]}"; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done; }
mapfile -t before < <(ticks)
t0=$(date +%s.%N)
result=$(redis-benchmark -p "$p0" "${args[@]}" --csv 2>/dev/null | tail -1 | tr -d '"')
t1=$(date +%s.%N)
mapfile -t after < <(ticks)

echo "  redis-benchmark ${args[*]} against the origin of 3 nodes"
echo "  $result" | awk -F, '{ printf "  %s: %s requests/s, p50 %s ms, p99 %s ms\n", $1, $2, $5, $7 }'
hz=$(getconf CLK_TCK)
names=(origin peer1 peer2)
total=0
for i in 0 1 2; do
  d=$(( after[i] - before[i] ))
  total=$(( total + d ))
  awk -v d="$d" -v hz="$hz" -v n="$requests" -v t0="$t0" -v t1="$t1" -v name="${names[$i]}" \
    'BEGIN { printf "  %-7s %6.2f us CPU per request, %4.0f%% of a core\n", name, d / hz * 1e6 / n, d / hz / (t1 - t0) * 100 }'
done
awk -v d="$total" -v hz="$hz" -v n="$requests" \
  'BEGIN { printf "  all 3   %6.2f us CPU per request\n", d / hz * 1e6 / n }'

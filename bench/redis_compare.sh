#!/usr/bin/env bash
# Client throughput and p99 latency, one node, side by side with redis-server
# (appendonly yes, appendfsync everysec) under the same redis-benchmark
# command, alternating the two systems in one run (the machine is shared and
# noisy: the ratio is the figure to read).
# Usage: bench/redis_compare.sh [build-dir] [requests] [rounds]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
rounds=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/.ci/deps.sh" redis-server >/dev/null
bin="$here/$build/converge"
root=$(mktemp -d)
rport=$((10000 + RANDOM % 2000)); cport=$((rport + 3000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT
mkdir -p "$root/redis"
redis-server --port $rport --dir "$root/redis" --appendonly yes --appendfsync everysec \
  --save "" --daemonize no --logfile "$root/redis.log" & pids+=($!)
"$bin" serve --data-dir "$root/converge" --port $cport --peer-port $((cport + 10000)) \
  --fsync everysec --log-level warn >"$root/converge.log" 2>&1 & pids+=($!)
for p in $rport $cport; do
  for _ in $(seq 100); do [ "$(redis-cli -p $p ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
done

# One redis-benchmark run; prints "test rps p99_ms" lines.
run() {
  redis-benchmark -p "$1" -n "$n" -r 100000 -c 50 -P "$2" -t incr,hset,set,get --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR>1 { print $1, $2, $7 }'
}
printf "%-6s %-3s %14s %14s %7s %12s %12s %7s\n" test P redis_rps converge_rps ratio redis_p99 conv_p99 ratio
declare -A r_rps c_rps r_p99 c_p99
for pipe in 1 16; do
  for round in $(seq "$rounds"); do
    while read -r t rps p99; do r_rps[$t$pipe]+="$rps "; r_p99[$t$pipe]+="$p99 "; done < <(run $rport $pipe)
    while read -r t rps p99; do c_rps[$t$pipe]+="$rps "; c_p99[$t$pipe]+="$p99 "; done < <(run $cport $pipe)
  done
  for t in INCR HSET SET GET; do
    med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    rr=$(echo "${r_rps[$t$pipe]}" | med); cr=$(echo "${c_rps[$t$pipe]}" | med)
    rp=$(echo "${r_p99[$t$pipe]}" | med); cp=$(echo "${c_p99[$t$pipe]}" | med)
    printf "%-6s %-3s %14s %14s %7.2f %12s %12s %7.2f\n" "$t" "$pipe" "$rr" "$cr" \
      "$(echo "$cr / $rr" | bc -l)" "$rp" "$cp" "$(echo "$cp / $rp" | bc -l)"
  done
done

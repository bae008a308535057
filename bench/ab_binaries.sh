#!/usr/bin/env bash
# Two builds of the node side by side: for measuring a change against the code
# before it. Each round starts a fresh single node (`serve --fsync everysec`,
# empty data dir) of build A, runs one redis-benchmark command against it,
# stops it, then does the same for build B; so the machine's noise falls on
# both. Prints, per round and build, each test's requests per second and p99
# (ms), and the node's CPU (user + system, all its threads, from
# /proc/PID/stat) per request over the whole run, which the noise moves far
# less than throughput. Then the medians of both and the ratios B/A.
# Usage: bench/ab_binaries.sh BUILD_A BUILD_B [rounds] [tests] [pipeline] [requests]
#   defaults: 3 rounds, -t incr,set, -P 16, -n 300000 (-r 100000 -c 50 always)
#   BUILD_x is a build directory holding `converge`, or the binary itself.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,13p' "$0"; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
"$here/.ci/deps.sh" redis-tools >/dev/null
bin_of() { if [ -d "$1" ]; then echo "$1/converge"; else echo "$1"; fi; }
bin_a=$(bin_of "$1"); bin_b=$(bin_of "$2")
rounds=${3:-3}; tests=${4:-incr,set}; pipe=${5:-16}; n=${6:-300000}
bench_root=$(bench_tmpdir)
ticks_per_s=$(getconf CLK_TCK)

echo "  A = $bin_a"
echo "  B = $bin_b"
echo "  redis-benchmark -n $n -r 100000 -c 50 -P $pipe -t $tests; $rounds rounds, A then B"
for round in $(seq "$rounds"); do
  for side in A B; do
    bin=$bin_a; [ $side = B ] && bin=$bin_b
    port=$(bench_free_port)
    rm -rf "$bench_root/$side"
    "$bin" serve --data-dir "$bench_root/$side" --port "$port" --peer-port $((port + 10000)) \
      --fsync everysec --log-level warn >"$bench_root/$side.log" 2>&1 &
    pid=$!
    bench_pids+=("$pid")
    bench_wait_ping "$port"
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rows=$(redis-benchmark -p "$port" -n "$n" -r 100000 -c 50 -P "$pipe" -t "$tests" --csv \
      2>/dev/null | tr -d '"' | awk -F, '$1 != "test" { print $1, $2, $7 }')
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    # Requests of all the tests run; CPU in microseconds per request.
    requests=$(( n * $(echo "$rows" | grep -c .) ))
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$ticks_per_s" -v r="$requests" \
      'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
    printf "  round %s %s:" "$round" "$side"
    while read -r t rps p99; do
      printf "  %s %s rps p99 %s ms" "$t" "${rps%.*}" "$p99"
      echo "$rps" >>"$bench_root/rps.$side.$t"
    done <<<"$rows"
    printf "  cpu %s us/req\n" "$cpu"
    echo "$cpu" >>"$bench_root/cpu.$side"
  done
done
echo "  medians:"
for f in "$bench_root"/rps.A.*; do
  t=${f##*.}
  a=$(bench_median <"$f"); b=$(bench_median <"$bench_root/rps.B.$t")
  printf "  %-6s A %10.0f  B %10.0f rps  B/A %s\n" "$t" "$a" "$b" "$(bench_ratio "$b" "$a")"
done
a=$(bench_median <"$bench_root/cpu.A"); b=$(bench_median <"$bench_root/cpu.B")
printf "  cpu    A %10s  B %10s us/req  B/A %s\n" "$a" "$b" "$(bench_ratio "$b" "$a")"

#!/usr/bin/env bash
# Issue 8 items 7 and 8 on one data set. Loads KEYS distinct keys (SET
# key:I, 32-byte values, pipelined through redis-cli --pipe) into one node
# and reads VmRSS before and after (item 8: resident MB per million keys).
# Item 7: stops the node, then ROUNDS times, alternating, times `converge
# serve` from exec until it answers PING and GET key:1, and a bare RocksDB
# open of the same directory with one Get (build/bench/rocksdb_open).
# Item 8: restarts the node and runs redis-benchmark SET over the same keys
# for SECONDS, sampling VmRSS; growth = last sample over the first sample
# after the first tenth of the run.
# Usage: bench/restart_memory.sh [build-dir] [keys] [rounds] [seconds]
set -euo pipefail
build=${1:-build}
keys=${2:-1000000}
rounds=${3:-3}
seconds=${4:-600}
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_BUILD=$build
source "$here/bench/lib.sh"
bench_root=$(bench_tmpdir)
port=$(bench_free_port)
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

bench_converge n "$port" --fsync everysec
pid=$bench_last_pid
bench_wait_ping "$port"
rss0=$(rss_kb "$pid")
t0=$(now_ms)
awk -v n="$keys" 'BEGIN { v = sprintf("%032d", 0);
  for (i = 1; i <= n; i++) { k = "key:" i;
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n", length(k), k, v } }' |
  redis-cli -p "$port" --pipe >"$bench_root/pipe.log"
tail -1 "$bench_root/pipe.log" | sed 's/^/  /'
count=$(redis-cli -p "$port" dbsize)
sleep 1
rss1=$(rss_kb "$pid")
echo "  loaded $count keys in $(($(now_ms) - t0)) ms; VmRSS empty $((rss0 / 1024)) MB, loaded $((rss1 / 1024)) MB"
per_m=$(awk -v a="$rss0" -v b="$rss1" -v n="$count" 'BEGIN {printf "%.1f", (b - a) / 1024 / n * 1e6}')
echo "  resident MB per million keys: $per_m (no target; reported)"

kill "$pid"; wait "$pid" 2>/dev/null || true
node_ms=""; bare_ms=""
# Both timed by build/bench/start_to_answer, on one clock from just before
# the exec: the node to its answers to PING and GET key:1 (polled every
# 0.2 ms over a connection, not by a redis-cli process per try), the bare
# open to its exit.
sta="$here/$build/bench/start_to_answer"
for r in $(seq "$rounds"); do
  read -r pid t v < <("$sta" "$port" key:1 "$bench_root/n.log" -- \
    "$here/$build/converge" serve --name n --data-dir "$bench_root/n" --port "$port" \
    --peer-port $((port + 10000)) --log-level warn --fsync everysec)
  [ -n "$v" ] || { echo "restart: no answer, or GET key:1 returned nothing" >&2; exit 1; }
  bench_pids+=("$pid")
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
  read -r _ b _ < <("$sta" 0 - /dev/null -- "$here/$build/bench/rocksdb_open" "$bench_root/n" key:1)
  echo "    round $r: node start -> PING + GET $t ms, bare RocksDB open + Get $b ms (process included)"
  node_ms+="$t "; bare_ms+="$b "
done
nm=$(echo "$node_ms" | tr ' ' '\n' | bench_median); bm=$(echo "$bare_ms" | tr ' ' '\n' | bench_median)
bench_record 7 "restart with $count keys -> PING+GET, ms" "$nm" le 2000
bench_record 7 "restart / bare RocksDB open" "$(bench_ratio "$nm" "$bm")" le 1.2

bench_converge n "$port" --fsync everysec
pid=$bench_last_pid
bench_wait_ping "$port"
redis-benchmark -p "$port" -c 50 -n 2000000000 -r "$keys" -d 32 -t set -q >/dev/null 2>&1 &
load=$!; bench_pids+=("$load")
step=$(awk -v s="$seconds" 'BEGIN {print s / 20}')
samples=""
for i in $(seq 20); do sleep "$step"; samples+="$(rss_kb "$pid") "; done
kill "$load" 2>/dev/null || true
echo "  VmRSS MB over ${seconds} s of SET load: $(for s in $samples; do printf '%d ' $((s / 1024)); done)"
first=$(echo "$samples" | awk '{print $3}'); last=$(echo "$samples" | awk '{print $NF}')
growth=$(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
echo "$per_m" >"$BENCH_OUT/rss_per_million"
bench_record 8 "VmRSS growth over ${seconds} s steady load, %" "$growth" le 10

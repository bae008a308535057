#!/usr/bin/env bash
# Issue 8 item 3: a 3-member etcd cluster on loopback under etcd's own load
# generator (`etcdctl check perf`: 50 clients at --load=s, 1024-byte values)
# against a 3-node Converge cluster under redis-benchmark SET with the same
# client count and value size, alternating; then single-client write
# latency: etcd through its HTTP/JSON gateway with one keep-alive connection
# (bench/etcd_put_latency.py), Converge with redis-benchmark -c 1 -P 1.
# Usage: bench/etcd_compare.sh [build-dir] [rounds]   (ETCD_LOAD=s|m|l|xl)
set -euo pipefail
build=${1:-build}
rounds=${2:-1}
load=${ETCD_LOAD:-s}
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_BUILD=$build
source "$here/bench/lib.sh"
"$here/.ci/deps.sh" etcd-server etcd-client redis-tools >/dev/null
bench_root=$(bench_tmpdir)
declare -A clients=([s]=50 [m]=200 [l]=500 [xl]=1000)
c=${clients[$load]}
vsize=1024

# etcd: three members, client and peer ports free on 127.0.0.1.
cluster=""; eps=""
for i in 0 1 2; do ec[$i]=$(bench_free_port); ep[$i]=$(bench_free_port)
  cluster+="${cluster:+,}e$i=http://127.0.0.1:${ep[$i]}"; eps+="${eps:+,}127.0.0.1:${ec[$i]}"; done
for i in 0 1 2; do
  etcd --name "e$i" --data-dir "$bench_root/e$i" --listen-client-urls "http://127.0.0.1:${ec[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${ec[$i]}" --listen-peer-urls "http://127.0.0.1:${ep[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ep[$i]}" --initial-cluster "$cluster" \
    --initial-cluster-state new --initial-cluster-token "bench$$" --log-level error \
    >"$bench_root/e$i.log" 2>&1 &
  bench_pids+=($!)
done
healthy() { etcdctl --endpoints="$eps" --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; }
for _ in $(seq 30); do healthy && break; sleep 0.3; done
healthy || { echo "etcd cluster not healthy:" >&2; tail -2 "$bench_root"/e?.log >&2; exit 1; }

# Converge: three nodes meshed.
for i in 0 1 2; do cp_[$i]=$(bench_free_port); done
bench_converge n0 "${cp_[0]}" --fsync everysec
bench_converge n1 "${cp_[1]}" --fsync everysec --seeds 127.0.0.1:$((cp_[0] + 10000))
bench_converge n2 "${cp_[2]}" --fsync everysec \
  --seeds 127.0.0.1:$((cp_[0] + 10000)),127.0.0.1:$((cp_[1] + 10000))
for i in 0 1 2; do bench_wait_ping "${cp_[$i]}"; done
for _ in $(seq 200); do
  redis-cli -p "${cp_[0]}" info replication | grep -q 'peers_connected:2' && break; sleep 0.05
done

echo "  etcd $(etcd --version | head -1 | awk '{print $3}'): etcdctl check perf --load=$load ($c clients," \
  "${vsize}-byte values, 60 s, rate-limited by etcdctl to its load's target)"
echo "  converge: redis-benchmark -c $c -d $vsize -t set -r 100000, the same clients and value size"
e_rps=""; c_rps=""
for r in $(seq "$rounds"); do
  out=$(etcdctl --endpoints="$eps" check perf --load="$load" 2>&1 | tr '\r' '\n' | grep -E 'PASS|FAIL|Slowest|Stddev|writes/s' || true)
  echo "$out" | sed 's/^/    etcd: /'
  e_rps+="$(echo "$out" | grep -oE '[0-9]+ writes/s' | awk '{print $1}') "
  n=$((BENCH_QUICK == 1 ? 20000 : 200000))
  cr=$(redis-benchmark -p "${cp_[0]}" -c "$c" -d $vsize -n $n -r 100000 -t set --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR>1 {print $2}')
  echo "    converge: $cr SET/s"
  c_rps+="$cr "
done
er=$(echo "$e_rps" | tr ' ' '\n' | bench_median); cr=$(echo "$c_rps" | tr ' ' '\n' | bench_median)
echo "  write throughput: etcd $er/s, converge $cr/s"

m=$((BENCH_QUICK == 1 ? 300 : 2000))
e_lat=$(python3 "$here/bench/etcd_put_latency.py" "127.0.0.1:${ec[0]}" "$m" $vsize)
c_lat=$(redis-benchmark -p "${cp_[0]}" -c 1 -P 1 -d $vsize -n $m -r 100000 -t set --csv 2>/dev/null |
  tr -d '"' | awk -F, 'NR>1 {print $5}')
echo "  single-client write p50: etcd $e_lat ms ($m puts, HTTP gateway), converge $c_lat ms"
bench_record 3 "write throughput converge/etcd (check perf --load=$load)" "$(bench_ratio "$cr" "$er")" ge 10
bench_record 3 "single-client write p50 converge/etcd" "$(bench_ratio "$c_lat" "$e_lat")" le 0.25

#!/usr/bin/env bash
# Client throughput with TLS against without: two single nodes, one plain and
# one with TLS on both ports (a throwaway CA and certificate made here), under
# the same redis-benchmark command (TLS via --tls), alternating the two in one
# run because the machine is shared and noisy. Prints the median rps of each
# and the ratio tls/plain (the issue's target: >= 0.7).
# As a reference, redis-server plain and with TLS (same certificate, same
# command) run in the same rounds: its own tls/plain ratio shows how much of
# the drop is the benchmark client's TLS on the same two cores.
# Columns: rps and p99 (ms) plain and TLS and their ratio; the server's CPU
# microseconds per request plain and TLS, and cpu_r = plain/tls CPU (the
# throughput ratio the server would reach if it alone were the bottleneck);
# then redis-server's rps ratio and CPU ratio.
# Usage: bench/tls_compare.sh [build-dir] [requests] [rounds]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
rounds=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/.ci/deps.sh" openssl redis-server redis-tools >/dev/null
bin="$here/$build/converge"
root=$(mktemp -d)
pport=$((12000 + RANDOM % 1000)); tport=$((pport + 1000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT

source "$here/tests/system/test_pki.sh"
pki=$root/pki
pki_ca "$pki" && pki_cert "$pki" n bench || { echo "tls_compare: openssl could not make the certificates" >&2; exit 1; }

"$bin" serve --data-dir "$root/plain" --port $pport --peer-port $((pport + 10000)) \
  --fsync everysec --log-level warn >"$root/plain.log" 2>&1 & pids+=($!)
"$bin" serve --data-dir "$root/tls" --port $tport --peer-port $((tport + 10000)) \
  --fsync everysec --log-level warn \
  --tls-cert "$pki/n.crt" --tls-key "$pki/n.key" --tls-ca "$pki/ca.crt" >"$root/tls.log" 2>&1 & pids+=($!)
rpport=$((tport + 1000)); rtport=$((tport + 2000))
redis-server --port $rpport --appendonly yes --appendfsync everysec --save '' \
  --dir "$root" --appendfilename plain.aof >"$root/redis-plain.log" 2>&1 & pids+=($!)
redis-server --port 0 --tls-port $rtport --tls-cert-file "$pki/n.crt" --tls-key-file "$pki/n.key" \
  --tls-ca-cert-file "$pki/ca.crt" --tls-auth-clients no --appendonly yes --appendfsync everysec \
  --save '' --dir "$root" --appendfilename tls.aof >"$root/redis-tls.log" 2>&1 & pids+=($!)
tlsargs=(--tls --cacert "$pki/ca.crt")
for _ in $(seq 100); do [ "$(redis-cli -p $rpport ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(redis-cli "${tlsargs[@]}" -p $rtport ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(redis-cli -p $pport ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(redis-cli "${tlsargs[@]}" -p $tport ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done

# One redis-benchmark run of one test; prints "rps p99_ms server_cpu_us_per_op".
# $1 port, $2 server pid, $3 test, $4 -P, rest extra args. The server's CPU
# time (utime + stime from /proc) over the run, per request, is the figure
# least disturbed by the shared machine: it is what TLS costs the server,
# whatever the client's TLS takes from the same two cores.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() {
  local port=$1 pid=$2 test=$3 pipe=$4; shift 4
  local before after line
  before=$(ticks "$pid")
  line=$(redis-benchmark "$@" -p "$port" -n "$n" -r 100000 -c 50 -P "$pipe" -t "$test" --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR>1 { print $2, $7 }')
  after=$(ticks "$pid")
  echo "$line $(echo "($after - $before) * 1000000 / $hz / $n" | bc -l)"
}
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-5s %-3s %11s %11s %6s %9s %9s %7s %7s %6s %12s %9s\n" test P plain_rps tls_rps ratio \
  plain_p99 tls_p99 cpu_us cpu_us_t cpu_r redis_ratio redis_cpu_r
declare -A rps p99 cpu
targets=("plain $pport ${pids[0]}" "tls $tport ${pids[1]}" "rplain $rpport ${pids[2]}" "rtls $rtport ${pids[3]}")
for pipe in 1 16; do
  for round in $(seq "$rounds"); do
    for test in set get; do
      for target in "${targets[@]}"; do
        read -r name port pid <<<"$target"
        extra=(); [ "${name%tls}" != "$name" ] && extra=("${tlsargs[@]}")
        read -r r p c < <(run "$port" "$pid" "$test" "$pipe" "${extra[@]}")
        k="$name $test $pipe"; rps[$k]+="$r "; p99[$k]+="$p "; cpu[$k]+="$c "
      done
    done
  done
  for test in set get; do
    pr=$(echo "${rps[plain $test $pipe]}" | med); tr_=$(echo "${rps[tls $test $pipe]}" | med)
    pp=$(echo "${p99[plain $test $pipe]}" | med); tp=$(echo "${p99[tls $test $pipe]}" | med)
    pc=$(echo "${cpu[plain $test $pipe]}" | med); tc=$(echo "${cpu[tls $test $pipe]}" | med)
    rpr=$(echo "${rps[rplain $test $pipe]}" | med); rtr=$(echo "${rps[rtls $test $pipe]}" | med)
    rpc=$(echo "${cpu[rplain $test $pipe]}" | med); rtc=$(echo "${cpu[rtls $test $pipe]}" | med)
    printf "%-5s %-3s %11s %11s %6.2f %9s %9s %7.1f %7.1f %6.2f %12.2f %9.2f\n" "${test^^}" "$pipe" \
      "$pr" "$tr_" "$(echo "$tr_ / $pr" | bc -l)" "$pp" "$tp" "$pc" "$tc" "$(echo "$pc / $tc" | bc -l)" \
      "$(echo "$rtr / $rpr" | bc -l)" "$(echo "$rpc / $rtc" | bc -l)"
  done
done

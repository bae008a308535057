#!/usr/bin/env bash
# Client throughput with TLS against without: two single nodes, one plain and
# one with TLS on both ports (a throwaway CA and certificate made here), under
# the same redis-benchmark command (TLS via --tls), alternating the two in one
# run because the machine is shared and noisy. Prints the median rps of each
# and the ratio tls/plain (the issue's target: >= 0.7).
# Usage: bench/tls_compare.sh [build-dir] [requests] [rounds]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
rounds=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/.ci/deps.sh" openssl >/dev/null
bin="$here/$build/converge"
root=$(mktemp -d)
pport=$((12000 + RANDOM % 1000)); tport=$((pport + 1000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT

pki=$root/pki; mkdir -p "$pki"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 -subj /CN=bench-ca 2>/dev/null
openssl req $ec -keyout "$pki/n.key" -out "$pki/n.csr" -subj /CN=bench 2>/dev/null
openssl x509 -req -in "$pki/n.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -out "$pki/n.crt" -days 2 2>/dev/null

"$bin" serve --data-dir "$root/plain" --port $pport --peer-port $((pport + 10000)) \
  --fsync everysec --log-level warn >"$root/plain.log" 2>&1 & pids+=($!)
"$bin" serve --data-dir "$root/tls" --port $tport --peer-port $((tport + 10000)) \
  --fsync everysec --log-level warn \
  --tls-cert "$pki/n.crt" --tls-key "$pki/n.key" --tls-ca "$pki/ca.crt" >"$root/tls.log" 2>&1 & pids+=($!)
tlsargs=(--tls --cacert "$pki/ca.crt")
for _ in $(seq 100); do [ "$(redis-cli -p $pport ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(redis-cli "${tlsargs[@]}" -p $tport ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done

# One redis-benchmark run; prints "test rps p99_ms" lines. $1 port, $2 -P, rest extra args.
run() {
  local port=$1 pipe=$2; shift 2
  redis-benchmark "$@" -p "$port" -n "$n" -r 100000 -c 50 -P "$pipe" -t set,get --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR>1 { print $1, $2, $7 }'
}
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-5s %-3s %14s %14s %7s %12s %12s\n" test P plain_rps tls_rps ratio plain_p99 tls_p99
declare -A p_rps t_rps p_p99 t_p99
for pipe in 1 16; do
  for round in $(seq "$rounds"); do
    while read -r t rps p99; do p_rps[$t$pipe]+="$rps "; p_p99[$t$pipe]+="$p99 "; done < <(run $pport $pipe)
    while read -r t rps p99; do t_rps[$t$pipe]+="$rps "; t_p99[$t$pipe]+="$p99 "; done < <(run $tport $pipe "${tlsargs[@]}")
  done
  for t in SET GET; do
    pr=$(echo "${p_rps[$t$pipe]}" | med); tr_=$(echo "${t_rps[$t$pipe]}" | med)
    pp=$(echo "${p_p99[$t$pipe]}" | med); tp=$(echo "${t_p99[$t$pipe]}" | med)
    printf "%-5s %-3s %14s %14s %7.2f %12s %12s\n" "$t" "$pipe" "$pr" "$tr_" \
      "$(echo "$tr_ / $pr" | bc -l)" "$pp" "$tp"
  done
done

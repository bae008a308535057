#!/usr/bin/env bash
# `converge cluster up --nodes 3` with TLS: every node gets the same
# certificate, key and CA; the launcher's status table reads each node over
# TLS (peers 2/2 and the key count come from INFO and DBSIZE asked that way)
# and says how to connect; a write through n1 over TLS is read through n3;
# with --tls-auth-clients the launcher presents the certificate itself.
# Usage: cluster_up_tls_test.sh path/to/converge
set -u
bin=$1
command -v openssl >/dev/null || { echo "openssl missing (apt-get install openssl)"; exit 1; }
redis-cli --help 2>&1 | grep -q -- --tls || { echo "redis-cli without TLS"; exit 1; }
root=$(mktemp -d)
launcher=""
cleanup() {
  [ -n "$launcher" ] && kill -9 "$launcher" 2>/dev/null
  pkill -9 -f "$root/data" 2>/dev/null; rm -rf "$root"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -30 "$root/launcher.out"; for n in 1 2 3; do echo "--- n$n"; tail -5 "$root/data/n$n.log"; done; exit 1; }

source "$(dirname "$0")/test_pki.sh"
pki=$root/pki
pki_ca "$pki" || fail "openssl: CA"
pki_cert "$pki" n local-cluster || fail "openssl: certificate"
tls=(--tls-cert "$pki/n.crt" --tls-key "$pki/n.key" --tls-ca "$pki/ca.crt")

# run_cluster EXTRA...: starts 3 nodes, checks them, stops them.
run_cluster() {
  local base=$((16000 + RANDOM % 3000)) extra=("$@")
  local p1=$base p3=$((base + 2))
  rm -rf "$root/data"
  "$bin" cluster up --nodes 3 --base-port $base --data-root "$root/data" --gossip-interval-ms 100 \
    "${tls[@]}" "${extra[@]}" >"$root/launcher.out" 2>&1 &
  launcher=$!
  local cli=(redis-cli --tls --cacert "$pki/ca.crt")
  [ ${#extra[@]} -gt 0 ] && cli+=(--cert "$pki/n.crt" --key "$pki/n.key")
  local said=0
  for _ in $(seq 50); do
    grep -q -- "connect: redis-cli -p $p1 --tls --cacert $pki/ca.crt" "$root/launcher.out" && { said=1; break; }
    sleep 0.1
  done
  [ $said = 1 ] || fail "the launcher does not say how to connect over TLS"
  for _ in $(seq 100); do [ "$("${cli[@]}" -p $p1 set greeting hello 2>/dev/null)" = OK ] && break; sleep 0.1; done
  [ "$("${cli[@]}" -p $p1 get greeting)" = hello ] || fail "SET over TLS on n1"
  for _ in $(seq 100); do [ "$("${cli[@]}" -p $p3 get greeting 2>/dev/null)" = hello ] && break; sleep 0.1; done
  [ "$("${cli[@]}" -p $p3 get greeting)" = hello ] || fail "n3 does not see n1's write"
  # The table, read by the launcher over TLS: every node up, 2/2 peers, 1 key.
  local ok=0
  for _ in $(seq 150); do  # without a terminal the table is printed at most every 5 s
    [ "$(grep -cE "^n[123] +[0-9]+ +up +2/2 +1 " "$root/launcher.out")" -ge 3 ] && { ok=1; break; }
    sleep 0.1
  done
  [ $ok = 1 ] || fail "the status table does not show 3 nodes up with 2/2 peers and 1 key"
  grep -q "does not answer the launcher" "$root/launcher.out" && fail "a TLS probe was refused"
  kill -INT $launcher
  for _ in $(seq 150); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
  wait $launcher; local rc=$?
  launcher=""
  [ $rc = 0 ] || fail "launcher exited $rc after SIGINT"
}

run_cluster
run_cluster --tls-auth-clients
echo "cluster up tls: ok"

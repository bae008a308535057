#!/usr/bin/env bash
# TLS on a real `converge serve` with the real redis-cli and redis-benchmark
# (Debian's are built with TLS): a throwaway CA and certificate made here with
# openssl; TLS clients work, plain clients and garbage are turned away while
# the node keeps serving; bad TLS options stop the node with a clear reason;
# SIGHUP reloads rotated certificate files, and refuses files that do not load.
# Usage: tls_test.sh path/to/converge
set -u
bin=$1
command -v openssl >/dev/null || { echo "openssl missing (apt-get install openssl)"; exit 1; }
redis-cli --help 2>&1 | grep -q -- --tls || { echo "redis-cli without TLS"; exit 1; }
root=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$root/log" 2>/dev/null; exit 1; }

source "$(dirname "$0")/test_pki.sh"
pki=$root/pki
pki_ca "$pki" || fail "openssl: CA"
pki_cert "$pki" n n1 || fail "openssl: certificate"
tls=(--tls-cert "$pki/n.crt" --tls-key "$pki/n.key" --tls-ca "$pki/ca.crt")

# Bad options: exit 2 with the reason (files missing or incomplete), exit 1
# for a file that is there but is not PEM.
"$bin" serve --data-dir "$root/x" --tls-cert "$pki/n.crt" 2>"$root/err"; rc=$?
[ $rc = 2 ] && grep -q -- "--tls-key" "$root/err" || fail "cert without key: rc=$rc $(cat "$root/err")"
"$bin" serve --data-dir "$root/x" --tls-cert "$pki/nope.crt" --tls-key "$pki/n.key" --tls-ca "$pki/ca.crt" \
  2>"$root/err"; rc=$?
[ $rc = 2 ] && grep -q "nope.crt" "$root/err" || fail "missing cert: rc=$rc $(cat "$root/err")"
echo garbage >"$pki/junk.crt"
"$bin" serve --data-dir "$root/x" --port 1 --tls-cert "$pki/junk.crt" --tls-key "$pki/n.key" \
  --tls-ca "$pki/ca.crt" 2>"$root/err"; rc=$?
[ $rc = 1 ] && grep -q "junk.crt" "$root/err" || fail "junk cert: rc=$rc $(cat "$root/err")"

port=$((13000 + RANDOM % 1000))
"$bin" serve --data-dir "$root/d" --name solo --port $port --peer-port $((port + 10000)) "${tls[@]}" \
  >"$root/log" 2>&1 &
pid=$!
cli=(redis-cli --tls --cacert "$pki/ca.crt" -p $port)
for _ in $(seq 100); do [ "$("${cli[@]}" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$("${cli[@]}" ping)" = PONG ] || fail "no PONG over TLS"
[ "$("${cli[@]}" set greeting hello)" = OK ] || fail "SET over TLS"
[ "$("${cli[@]}" get greeting)" = hello ] || fail "GET over TLS"

# A plain client gets no reply and is disconnected; garbage too.
out=$(timeout 10 redis-cli -p $port ping 2>&1); rc=$?
[ $rc != 124 ] || fail "plain redis-cli hung"
[ "$out" != PONG ] || fail "plain client answered"
exec 3<>/dev/tcp/127.0.0.1/$port && printf '\x16\x03\x01\x00\x05\xff\xff\xff\xff\xffGET / HTTP/1.0\r\n\r\n' >&3
timeout 10 cat <&3 >/dev/null || fail "garbage connection not closed"
exec 3<&-
grep -q "TLS handshake failed" "$root/log" || fail "no log line for the failed handshakes"

out=$(redis-benchmark --tls --cacert "$pki/ca.crt" -p $port -n 2000 -c 10 -t set,get,incr -q 2>&1) \
  || fail "redis-benchmark --tls: $out"
echo "$out"
echo "$out" | grep -qi "error" && fail "redis-benchmark reported errors"
[ "$("${cli[@]}" get greeting)" = hello ] || fail "node stopped serving"
"${cli[@]}" info clients | grep -q '^tls:on' || fail "INFO clients tls"

# Certificate rotation: new files over the old, SIGHUP, and new connections
# get the new certificate while the node keeps serving; files that do not
# load are refused with a log line and the node keeps the last good ones.
served_cn() {
  openssl s_client -connect 127.0.0.1:$port -CAfile "$pki/ca.crt" </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}
[ "$(served_cn)" = n1 ] || fail "served certificate before rotation: '$(served_cn)'"
pki_cert "$pki" n2 n2 || fail "openssl: certificate 2"
cp "$pki/n2.crt" "$pki/n.crt" && cp "$pki/n2.key" "$pki/n.key"
kill -HUP $pid
for _ in $(seq 50); do grep -q "TLS certificate, key and CA reloaded" "$root/log" && break; sleep 0.1; done
[ "$(served_cn)" = n2 ] || fail "served certificate after SIGHUP: '$(served_cn)'"
[ "$("${cli[@]}" get greeting)" = hello ] || fail "GET after the reload"
echo garbage >"$pki/n.crt"
kill -HUP $pid
for _ in $(seq 50); do grep -q "TLS files not reloaded" "$root/log" && break; sleep 0.1; done
grep -q "TLS files not reloaded.*n.crt" "$root/log" || fail "no log line naming the bad file"
[ "$(served_cn)" = n2 ] || fail "a bad file replaced the certificate: '$(served_cn)'"
[ "$("${cli[@]}" get greeting)" = hello ] || fail "GET after the refused reload"
kill -0 $pid || fail "node died"
echo "tls: ok"

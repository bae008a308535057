#!/usr/bin/env bash
# `converge cluster up --nodes 3` as a user runs it: a write through one node
# is read through the others; DEBUG PARTITION through the client port stops
# what crosses, DEBUG HEAL lets it through again and the digests agree; Ctrl-C
# (SIGINT) stops every node and the launcher exits 0.
# Usage: cluster_up_test.sh path/to/converge
set -u
bin=$1
root=$(mktemp -d)
base=$((16000 + RANDOM % 3000))  # ports below the ephemeral range, own range
p1=$base; p2=$((base + 1)); p3=$((base + 2))
"$bin" cluster up --nodes 3 --base-port $base --data-root "$root/data" --fault-injection \
  --gossip-interval-ms 100 >"$root/launcher.out" 2>&1 &
launcher=$!
cleanup() { kill -9 "$launcher" 2>/dev/null; pkill -9 -f "$root/data" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$root/launcher.out"; for n in 1 2 3; do echo "--- n$n"; tail -5 "$root/data/n$n.log"; done; exit 1; }
cli() { redis-cli -p "$1" "${@:2}" 2>&1; }
# eventually PORT EXPECTED CMD...: retries for up to 10 s.
eventually() {
  local port=$1 want=$2; shift 2
  for _ in $(seq 100); do [ "$(cli $port "$@")" = "$want" ] && return 0; sleep 0.1; done
  return 1
}
for p in $p1 $p2 $p3; do eventually $p PONG ping || fail "node on $p did not answer PING"; done
grep -q "redis-cli -p $p1" "$root/launcher.out" || fail "the launcher does not say how to connect"

[ "$(cli $p1 set greeting hello)" = OK ] || fail "SET on n1"
eventually $p2 hello get greeting || fail "n2 does not see n1's write"
eventually $p3 hello get greeting || fail "n3 does not see n1's write"
cli $p1 info replication | grep -q '^peers_connected:2' || fail "n1 is not connected to both peers"

# Cut n1 off from both peers, from n1's side only.
[ "$(cli $p1 debug partition n2 n3)" = OK ] || fail "DEBUG PARTITION"
[ "$(cli $p1 set k from-n1)" = OK ] || fail "SET during the partition"
[ "$(cli $p2 hset h f from-n2)" = 1 ] || fail "HSET during the partition"
eventually $p3 from-n2 hget h f || fail "n2 -> n3 still crosses"
sleep 1.5
[ "$(cli $p2 get k)" = "" ] || fail "n1's write crossed the partition to n2"
[ "$(cli $p1 hget h f)" = "" ] || fail "n2's write crossed the partition to n1"

[ "$(cli $p1 debug heal)" = OK ] || fail "DEBUG HEAL"
eventually $p2 from-n1 get k || fail "n1's write did not reach n2 after HEAL"
eventually $p1 from-n2 hget h f || fail "n2's write did not reach n1 after HEAL"
d=$(cli $p1 debug digest)
eventually $p2 "$d" debug digest || fail "digests differ after heal"
eventually $p3 "$d" debug digest || fail "digests differ after heal"

kill -INT $launcher
for _ in $(seq 150); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
kill -0 $launcher 2>/dev/null && fail "launcher still running 15 s after SIGINT"
wait $launcher; rc=$?
[ $rc = 0 ] || fail "launcher exited $rc after SIGINT"
for p in $p1 $p2 $p3; do [ "$(cli $p ping)" = PONG ] && fail "node on $p still up after the launcher stopped"; done
grep -q "clean" "$root/launcher.out" || fail "no stop summary"
echo "cluster up: ok"

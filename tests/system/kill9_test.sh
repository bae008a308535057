#!/usr/bin/env bash
# A write acknowledged to a client is in the store before the reply: a client
# writes INCRs through redis-cli, the node is killed with SIGKILL at a random
# moment, restarted on the same directory, and the counter holds at least
# every acknowledged increment (and at most those plus the one in flight).
# Rounds: 5 per fsync mode. Usage: kill9_test.sh path/to/converge
set -u
bin=$1
root=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$root/log"; exit 1; }
seed=${CONVERGE_SEED:-$RANDOM}
echo "seed=$seed (replay: CONVERGE_SEED=$seed)"
RANDOM=$seed
start() {
  "$bin" serve --data-dir "$root/d-$1" --port $port --peer-port $((port + 10000)) --fsync "$1" >>"$root/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ "$(redis-cli -p $port ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
  fail "node did not start"
}
for mode in everysec always; do
  port=$((13000 + RANDOM % 3000))  # ports below the ephemeral range, own range
  acked=0
  for round in 1 2 3 4 5; do
    start $mode
    # Each acknowledged INCR prints its new value; the last line is the last ack.
    ( for i in $(seq 20000); do echo "INCR c"; done ) | redis-cli -p $port > "$root/acks" 2>/dev/null &
    writer=$!
    sleep 0.$((2 + RANDOM % 6))
    kill -9 $pid; wait $pid 2>/dev/null; pid=
    wait $writer 2>/dev/null
    last=$(grep -E '^[0-9]+$' "$root/acks" | tail -1)
    [ -n "$last" ] && acked=$last
    start $mode
    got=$(redis-cli -p $port get c)
    [ "$got" -ge "$acked" ] || fail "$mode round $round: counter $got < acknowledged $acked"
    [ "$got" -le $((acked + 1)) ] || fail "$mode round $round: counter $got > acknowledged $acked + 1 in flight"
    echo "$mode round $round: acknowledged $acked, after restart $got"
    acked=$got
    kill $pid; wait $pid 2>/dev/null; pid=
  done
done
echo "kill -9: ok"

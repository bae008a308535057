#!/usr/bin/env bash
# The real redis-cli and redis-benchmark against a real `converge serve`:
# redis-benchmark's own commands (with pipelining) complete without errors,
# and the counters it increments add up.
# Usage: redis_tools_test.sh path/to/converge
set -u
bin=$1
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing (apt-get install redis-tools)"; exit 1; }
root=$(mktemp -d)
# Client and peer ports (port + 10000) below the ephemeral range (32768+),
# in a range no other system test uses.
port=$((10000 + RANDOM % 3000))
"$bin" serve --data-dir "$root/d" --name solo --port $port --peer-port $((port + 10000)) >"$root/log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$root/log"; exit 1; }
for _ in $(seq 100); do [ "$(redis-cli -p $port ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(redis-cli -p $port ping)" = PONG ] || fail "node did not answer PING"

out=$(redis-benchmark -p $port -n 2000 -c 10 -t set,get,incr,hset -q 2>&1) || fail "redis-benchmark exited non-zero: $out"
echo "$out"
echo "$out" | grep -qi "error" && fail "redis-benchmark reported errors"
out=$(redis-benchmark -p $port -n 2000 -c 10 -P 16 -t set,get,incr -q 2>&1) || fail "pipelined run failed: $out"
echo "$out"
# 2000 + 2000 INCRs of the same key "counter:__rand_int__" without -r: one key.
[ "$(redis-cli -p $port get counter:__rand_int__)" = 4000 ] || fail "INCR count: $(redis-cli -p $port get counter:__rand_int__)"

# redis-cli conveniences: inline with quotes, --scan, info.
[ "$(redis-cli -p $port set 'key with space' 'a "quoted" value')" = OK ] || fail "SET with quotes"
[ "$(redis-cli -p $port get 'key with space')" = 'a "quoted" value' ] || fail "GET with quotes"
redis-cli -p $port --scan --pattern 'key*' | grep -q "key with space" || fail "redis-cli --scan"
redis-cli -p $port info replication | grep -q '^node_name:solo' || fail "INFO replication"
# The allocator INFO reports is the one the executable runs on.
allocator=$(redis-cli -p $port info server | tr -d '\r' | sed -n 's/^mem_allocator://p')
if ldd "$bin" | grep -q libjemalloc; then want='^jemalloc-[0-9]'; else want='^libc$'; fi
[[ $allocator =~ $want ]] || fail "INFO mem_allocator: '$allocator', want $want"
echo "redis tools: ok"

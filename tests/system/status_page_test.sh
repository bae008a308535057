#!/usr/bin/env bash
# The HTTP status page as a person sees it: three `converge serve` processes
# with --http-port, some keys and a reservation counter, then DEBUG PARTITION
# cuts n1 from n3. Headless Chromium loads n1's page (with the other two
# nodes' views, ?nodes=...), runs its JavaScript, and the rendered DOM must
# name every node and show the partition. A screenshot is taken too.
#
# Usage: status_page_test.sh path/to/converge [--screenshot OUT.png]
#   --screenshot  also copy the screenshot to OUT.png (how docs/status-page.png
#                 is regenerated: tests/system/status_page_test.sh build/converge
#                 --screenshot docs/status-page.png)
# Exits 77 (skipped) when chromium is not installed; `make test` installs it.
set -u
bin=$1
out_png=
[ "${2:-}" = --screenshot ] && out_png=${3:?--screenshot needs a file}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "SKIP: chromium is not installed (make test installs it: .ci/deps.sh chromium)"
  exit 77
fi
root=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$root"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for n in 1 2 3; do echo "--- n$n"; tail -5 "$root/n$n.log"; done
  exit 1
}
cli() { redis-cli -p "$1" "${@:2}" 2>&1; }
answers() { [ "$(cli "$1" "${@:3}")" = "$2" ]; }  # answers PORT EXPECTED CMD...
eventually() {  # eventually SECONDS COMMAND...: retries every 0.1 s
  local tries=$(($1 * 10)); shift
  for _ in $(seq $tries); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

base=$((19000 + RANDOM % 1800))  # client ports; peer ports +10000, HTTP +200
for i in 1 2 3; do
  port=$((base + i - 1))
  seeds=
  for j in 1 2 3; do
    [ $j = $i ] && continue
    seeds="${seeds:+$seeds,}127.0.0.1:$((base + j - 1 + 10000))"
  done
  "$bin" serve --data-dir "$root/n$i" --name n$i --port $port --peer-port $((port + 10000)) \
    --http-port $((port + 200)) --seeds "$seeds" --fault-injection --gossip-interval-ms 100 \
    >"$root/n$i.log" 2>&1 &
  pids+=($!)
  disown $!  # no "Killed" job notice from the cleanup
done
p1=$base; p2=$((base + 1)); p3=$((base + 2))
h1=$((p1 + 200)); h2=$((p2 + 200)); h3=$((p3 + 200))
for p in $p1 $p2 $p3; do
  eventually 10 answers $p PONG ping || fail "node on $p did not answer PING"
done
for p in $p1 $p2 $p3; do
  eventually 10 sh -c "redis-cli -p $p info replication | grep -q '^peers_connected:2'" ||
    fail "node on $p is not connected to both peers"
done
[ "$(curl -s http://127.0.0.1:$h1/healthz)" = ok ] || fail "/healthz on n1"

# Something to look at: keys, and stock spread over the nodes.
cli $p1 rc.add stock 40 >/dev/null
cli $p2 rc.add stock 25 >/dev/null
cli $p3 rc.add tickets 12 >/dev/null
cli $p2 rc.take stock 5 >/dev/null
for i in $(seq 20); do cli $p1 incr "visits:$i" >/dev/null; done
cli $p2 hset item:42 name kiosk price 3 >/dev/null
cli $p3 set motd hello >/dev/null
eventually 10 answers $p3 24 dbsize || fail "n3 did not get every key"

# Cut n1 from n3; n2 still reaches both. n1 knows at once. (What n3 sees
# varies: n1 drops its frames, but the handshake of a reconnect after the
# idle timeout goes through, and n3 may or may not mark n1 suspect.)
[ "$(cli $p1 debug partition n3)" = OK ] || fail "DEBUG PARTITION"
cli $p1 incr visits:1 >/dev/null  # n1 believes n3 lags behind it now
eventually 10 sh -c "curl -s http://127.0.0.1:$h1/status.json | grep -q '\"name\":\"n3\",[^}]*\"partitioned\":true'" ||
  fail "n1's /status.json does not show n3 partitioned"
eventually 10 sh -c "curl -s http://127.0.0.1:$h1/status.json | grep -q '\"key\":\"stock\",\"value\":60'" ||
  fail "n1's /status.json does not show stock at 60"

url="http://127.0.0.1:$h1/?nodes=127.0.0.1:$h2,127.0.0.1:$h3"
chrome() {
  timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$root/chrome" --virtual-time-budget=5000 "$@" 2>>"$root/chrome.log"
}
chrome --dump-dom "$url" >"$root/dom.html" || fail "chromium --dump-dom failed: $(tail -3 "$root/chrome.log")"
dom=$(cat "$root/dom.html")
for n in n1 n2 n3; do
  grep -q "data-node=\"$n\"" <<<"$dom" || fail "the rendered page has no card for $n"
done
# The partition, as the page words it, from the side that cut it.
grep -q '<b>n1</b> cannot reach <b>n3</b> (partitioned)' <<<"$dom" || fail "the page does not show n1 cut from n3"
grep -q '<th>n2</th>' <<<"$dom" || fail "no link matrix"
grep -q '<td>stock</td><td class="num">60</td>' <<<"$dom" || fail "the reservation counter stock (60) is not shown"

chrome --window-size=1280,1000 --hide-scrollbars --screenshot="$root/status-page.png" "$url" >/dev/null ||
  fail "chromium --screenshot failed: $(tail -3 "$root/chrome.log")"
[ "$(head -c 8 "$root/status-page.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
  fail "the screenshot is not a PNG"
[ "$(stat -c %s "$root/status-page.png")" -gt 20000 ] || fail "the screenshot is nearly empty"
if [ -n "$out_png" ]; then
  cp "$root/status-page.png" "$out_png" || fail "cannot write $out_png"
  echo "screenshot: $out_png"
fi
echo "status page: ok"

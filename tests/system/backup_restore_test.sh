#!/usr/bin/env bash
# Backup and restore while the cluster moves on (docs/operations.md):
# three nodes; n1 takes a CHECKPOINT, keeps writing (its peers get those
# writes), is killed, and comes back on the backup while its peers are down
# (an edge node restored offline). Its new writes must not reuse the sequence
# numbers its peers already hold for the writes the backup lacks: the
# restored node takes a new replica id, gets its lost writes back from its
# peers once they return, and all three converge with every acknowledged
# write.
# Usage: backup_restore_test.sh path/to/converge
# CONVERGE_BACKUP_CONTROL=1 removes the backup's marker first, to show that
# without the new id the cluster never converges (it then expects failure).
set -u
bin=$1
root=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -30 "$root/log"; exit 1; }
seed=${CONVERGE_SEED:-$RANDOM}
echo "seed=$seed (replay: CONVERGE_SEED=$seed)"
RANDOM=$seed
base=$((16000 + RANDOM % 2000))  # ports below the ephemeral range
port() { echo $((base + $1)); }
cli() { local n=$1; shift; redis-cli -p "$(port "$n")" "$@"; }

start() {  # start N [extra flags]
  local n=$1; shift
  local seeds=()
  [ "$n" != 1 ] && seeds=(--seeds "127.0.0.1:$(($(port 1) + 10000))")
  "$bin" serve --name "n$n" --data-dir "$root/d$n" --port "$(port "$n")" \
    --peer-port $(($(port "$n") + 10000)) "${seeds[@]}" --gossip-interval-ms 50 "$@" \
    >>"$root/log" 2>&1 &
  pids[$n]=$!
  for _ in $(seq 200); do [ "$(cli "$n" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
  fail "n$n did not start"
}

converged() {  # waits up to $1 seconds for equal digests on n1..n3
  local deadline=$((SECONDS + $1)) d1 d2 d3
  while [ $SECONDS -lt $deadline ]; do
    d1=$(cli 1 debug digest); d2=$(cli 2 debug digest); d3=$(cli 3 debug digest)
    [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ] && return 0
    sleep 0.1
  done
  echo "digests: n1=$d1 n2=$d2 n3=$d3"
  return 1
}

start 1 --backup-dir "$root/backups"
start 2
start 3
for _ in $(seq 10); do cli 1 incr c >/dev/null; done
cli 1 hset h f1 a >/dev/null
converged 20 || fail "the cluster did not converge before the backup"

# Refusals: a name that is a path, and a node without --backup-dir.
cli 1 checkpoint ../escape | grep -q "plain name" || fail "CHECKPOINT accepted a path"
cli 2 checkpoint b | grep -q -- "--backup-dir" || fail "CHECKPOINT ran without --backup-dir"

backup=$(cli 1 checkpoint b1)
[ "$backup" = "$root/backups/b1" ] || fail "CHECKPOINT replied '$backup'"
[ -f "$backup/CONVERGE-RESTORED" ] || fail "the backup has no restore marker"
cli 1 checkpoint b1 | grep -q "exists" || fail "CHECKPOINT overwrote a backup"

# After the backup: writes the backup lacks, which n2 and n3 receive.
for _ in $(seq 5); do cli 1 incr c >/dev/null; done
cli 1 hset h f2 b >/dev/null
cli 1 set s x >/dev/null
converged 20 || fail "the cluster did not converge after the backup"
[ "$(cli 2 get c)" = 15 ] || fail "n2 did not get n1's writes before the restore"

# The peers go down (cleanly); n1 dies and comes back on the backup, alone.
for n in 2 3; do kill "${pids[$n]}"; wait "${pids[$n]}" 2>/dev/null; done
kill -9 "${pids[1]}"; wait "${pids[1]}" 2>/dev/null
rm -rf "$root/d1"
cp -a "$backup" "$root/d1"
[ "${CONVERGE_BACKUP_CONTROL:-0}" = 1 ] && rm "$root/d1/CONVERGE-RESTORED"
start 1 --backup-dir "$root/backups"
retired=$(cli 1 info persistence | tr -d '\r' | sed -n 's/^retired_ids://p')
echo "n1 after restore: retired_ids=$retired"
# New writes on the restored node.
for _ in $(seq 7); do cli 1 incr c >/dev/null; done
cli 1 hset h f3 c >/dev/null
start 2
start 3

if [ "${CONVERGE_BACKUP_CONTROL:-0}" = 1 ]; then
  converged 10 && fail "control: converged without the new replica id"
  echo "control: diverged as expected (c on n1=$(cli 1 get c), n2=$(cli 2 get c))"
  exit 0
fi
[ -n "$retired" ] || fail "the restored node kept its replica id"
converged 30 || fail "the cluster did not converge after the restore"
for n in 1 2 3; do
  [ "$(cli $n get c)" = 22 ] || fail "n$n: c=$(cli $n get c), want 22 (10 + 5 + 7 acknowledged)"
  fields=$(cli $n hgetall h | paste -sd, -)
  [ "$fields" = "f1,a,f2,b,f3,c" ] || fail "n$n: h=$fields"
  [ "$(cli $n get s)" = x ] || fail "n$n: s lost"
done
grep -q "new replica id" "$root/log" || fail "the id change was not logged"
echo "backup and restore: ok (c=22 on every node, retired id $retired)"

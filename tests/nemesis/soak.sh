#!/usr/bin/env bash
# make soak: the nemesis suite on random seeds until the time is up, each run
# 120 s on 3 or 5 nodes and one of the durability modes, every report
# appended to one file. Exits 1 if any run found an anomaly.
# Usage: tests/nemesis/soak.sh BUILD_DIR [MINUTES=30] [REPORT=soak-report.txt]
set -uo pipefail
build=${1:?build dir}
minutes=${2:-30}
report=${3:-soak-report.txt}
nemesis="$build/tests/nemesis/nemesis"
converge="$build/converge"
end=$(( $(date +%s) + minutes * 60 ))
runs=0 failed=0
: > "$report"
echo "soak: ${minutes} min of nemesis runs; reports in $report"
while [ "$(date +%s)" -lt "$end" ]; do
  left=$(( end - $(date +%s) ))
  duration=$(( left < 120 ? (left < 20 ? 20 : left) : 120 ))
  seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))
  nodes=$(( RANDOM % 2 == 0 ? 3 : 5 ))
  modes=(everysec batch always)
  fsync=${modes[$(( RANDOM % 3 ))]}
  runs=$((runs + 1))
  if "$nemesis" --converge "$converge" --seed "$seed" --duration "$duration" --nodes "$nodes" \
       --fsync "$fsync" --report "$report" > /dev/null 2>&1; then
    echo "run $runs: seed $seed, $nodes nodes, fsync $fsync, ${duration} s: no anomaly"
  else
    failed=$((failed + 1))
    echo "run $runs: seed $seed, $nodes nodes, fsync $fsync, ${duration} s: ANOMALIES (see $report)"
  fi
done
ops=$(awk '$1 == "total" { ok += $2; f += $3; u += $4 } END { printf "%d ok, %d failed, %d unknown", ok, f, u }' "$report")
faults=$(grep -o '(total [0-9]*)' "$report" | tr -dc '0-9\n' | awk '{ s += $1 } END { print s + 0 }')
anomalies=$(awk '/^anomalies:/ { s += $2 } END { print s + 0 }' "$report")
echo "soak: $runs runs, $failed with anomalies; operations $ops; faults $faults; anomalies $anomalies"
echo "soak: $runs runs, $failed with anomalies; operations $ops; faults $faults; anomalies $anomalies" >> "$report"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_SECONDS each, one after the other, on
# a scratch copy of its seeds and regressions (the committed corpus is never
# modified), then prints target / executions / result. Exits non-zero when a
# target crashes, naming the input that crashed it.
# Usage: .ci/fuzz.sh <fuzz build dir> [seconds]   (the build must exist)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: .ci/fuzz.sh <fuzz build dir> [seconds]}
seconds=${2:-60}
scratch="$build/fuzz-run"
rm -rf "$scratch"
mkdir -p "$scratch"

# target  max_len  dict
targets=(
  "resp_parser 4096 fuzz/resp_parser.dict"
  "frame 4096 -"
  "handshake 2048 -"
  "storage 1024 -"
)

failed=0
rows=()
for t in "${targets[@]}"; do
  read -r name max_len dict <<<"$t"
  bin="$build/fuzz/${name}_fuzz"
  dir="$scratch/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/"$name"/* "$dir/corpus/"
  if [ -d fuzz/regressions/"$name" ]; then cp fuzz/regressions/"$name"/* "$dir/corpus/"; fi
  args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  [ "$dict" != "-" ] && args+=(-dict="$dict")
  echo "fuzzing $name for ${seconds}s (log: $dir/log)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  if [ $rc -eq 0 ]; then
    result="ok"
  else
    failed=1
    crash=$(ls "$dir"/artifacts/* 2>/dev/null | head -1)
    result="FAILED (exit $rc) input: ${crash:-none written}"
    tail -40 "$dir/log"
  fi
  rows+=("$(printf '%-12s %14s   %s' "$name" "${runs:-?}" "$result")")
done

echo
printf '%-12s %14s   %s\n' target executions result
for r in "${rows[@]}"; do echo "$r"; done
if [ $failed -ne 0 ]; then
  echo "a fuzz target failed: copy the input into fuzz/regressions/<target>/, fix, rerun" >&2
  exit 1
fi

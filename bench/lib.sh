# Shared by the bench/*.sh scripts (sourced, not run): free ports, waiting
# for servers, stopping them on exit, and recording figures against targets.
# BENCH_OUT (set by bench/run.sh, else a temp dir) collects summary.tsv and
# the plot data of one run; BENCH_QUICK=1 asks for the short smoke parameters.

bench_here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_QUICK=${BENCH_QUICK:-0}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$BENCH_OUT"

bench_pids=()
bench_tmp=()
bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in "${bench_tmp[@]}"; do rm -rf "$p"; done
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# A temp dir removed on exit.
bench_tmpdir() { local d; d=$(mktemp -d); bench_tmp+=("$d"); echo "$d"; }

# A TCP port on 127.0.0.1 nobody listens on now, and port+10000 too
# (Converge's default peer port). Both stay below 32768, out of Linux's
# ephemeral range, where an outgoing connection's local port would make a
# later bind fail; ports handed out in this run are listed in
# $BENCH_OUT/ports and never handed out twice (nothing is bound until the
# server starts).
bench_free_port() {
  local p
  while :; do
    p=$((12000 + RANDOM % 10000))
    grep -qx "$p" "$BENCH_OUT/ports" 2>/dev/null && continue
    grep -qx "$((p + 10000))" "$BENCH_OUT/ports" 2>/dev/null && continue
    grep -qx "$((p - 10000))" "$BENCH_OUT/ports" 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null && continue
    echo "$p" >>"$BENCH_OUT/ports"
    echo "$p"; return
  done
}

# Waits until a Redis-protocol server on port $1 answers PING (10 s).
bench_wait_ping() {
  local _
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  echo "no PONG from port $1" >&2; return 1
}

# Starts a Converge node: bench_converge NAME PORT [serve flags...]; its data
# dir is $bench_root/NAME. Sets bench_last_pid.
bench_converge() {
  local name=$1 port=$2; shift 2
  "$bench_here/${BENCH_BUILD:-build}/converge" serve --name "$name" --data-dir "$bench_root/$name" \
    --port "$port" --peer-port $((port + 10000)) --log-level warn "$@" \
    >"$bench_root/$name.log" 2>&1 &
  bench_last_pid=$!
  bench_pids+=("$bench_last_pid")
}

# bench_record ITEM WHAT FIGURE OP TARGET: prints and appends one row to the
# summary; OP is ge or le; FIGURE and TARGET are numbers.
bench_record() {
  local item=$1 what=$2 fig=$3 op=$4 target=$5 met
  if [ -z "$fig" ] || [ "$fig" = nan ]; then met="NOT MEASURED"
  elif [ "$op" = ge ]; then met=$(awk -v a="$fig" -v b="$target" 'BEGIN{print (a>=b)?"MET":"NOT MET"}')
  else met=$(awk -v a="$fig" -v b="$target" 'BEGIN{print (a<=b)?"MET":"NOT MET"}'); fi
  local sym; [ "$op" = ge ] && sym=">=" || sym="<="
  printf "  [%s] %-52s %12s  target %s %s  %s\n" "$item" "$what" "$fig" "$sym" "$target" "$met"
  printf "%s\t%s\t%s\t%s %s\t%s\n" "$item" "$what" "$fig" "$sym" "$target" "$met" >>"$BENCH_OUT/summary.tsv"
}

# Median of the numbers on stdin.
bench_median() { grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
# a / b with 2 decimals.
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0==0) print "nan"; else printf "%.2f", a/b }'; }

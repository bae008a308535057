#!/usr/bin/env bash
# Draws bench/results.png from one run's data (bench/redis_compare.sh writes
# BENCH_OUT/throughput.dat "label redis_rps converge_rps" and latency.dat
# "label r_p50 c_p50 r_p99 c_p99"): throughput per command and system, and
# p50/p99 latency. Usage: bench/plot.sh BENCH_OUT PNG
set -euo pipefail
out=$1; png=$2
command -v gnuplot >/dev/null || { echo "gnuplot missing: no plot" >&2; exit 1; }
gnuplot <<GP
set terminal pngcairo size 1400,900 font ",9" noenhanced
set output "$png"
set multiplot layout 2,1 title "Converge vs redis-server (appendfsync everysec), redis-benchmark -c 50 -r 100000; $(date -u +%F)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set grid ytics
set key top left
set ylabel "requests/s"
set title "Throughput (+2peers: the node replicates to two live peers)"
plot "$out/throughput.dat" using 2:xtic(1) title "redis-server", "" using 3 title "converge"
set ylabel "ms"
set logscale y
set title "Latency percentiles (log scale)"
plot "$out/latency.dat" using 2:xtic(1) title "redis p50", "" using 3 title "converge p50", \
     "" using 4 title "redis p99", "" using 5 title "converge p99"
unset multiplot
GP
echo "wrote $png"

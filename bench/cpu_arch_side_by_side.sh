#!/usr/bin/env bash
# The speed of CUVIZ_CPU_ARCH builds side by side (docs/performance.md, "CPU instruction set"):
# network_bench of each build tree given, at one thread, alternating the trees ROUNDS times so
# that the machine's load falls on all of them alike. Prints each run's best and median rows
# (real time and process CPU time; on a shared machine read the CPU column).
#   bash bench/cpu_arch_side_by_side.sh ROUNDS BUILD_DIR...
# e.g. a -DCUVIZ_CPU_ARCH=x86-64-v3 tree against a -DCUVIZ_CPU_ARCH=x86-64 one:
#   bash bench/cpu_arch_side_by_side.sh 3 build build-deb
set -euo pipefail
rounds=$1; shift
filter='^(forward/full/224|step/inception_4a/128|layer_(forward|backward)/128/batch:4/(pool1/norm1|pool1/3x3_s2)/)'
for r in $(seq "$rounds"); do
  for b in "$@"; do
    echo "== $b (round $r)"
    OMP_NUM_THREADS=1 "$b/network_bench" --benchmark_filter="$filter" --benchmark_repetitions=3 \
      --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "_(median|best_time) "
  done
done

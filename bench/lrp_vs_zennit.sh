#!/bin/bash
# LRP maps per second, cuviz (bench/lrp_bench.cpp) and zennit (bench/zennit_lrp_baseline.py) side by
# side on the CPU, each at 1 and 2 threads, alternating, N rounds (docs/performance.md, "LRP against zennit").
#   bench/lrp_vs_zennit.sh [build dir, default build] [rounds, default 2] [repeats per round, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-2}
REPEATS=${3:-5}
COMPOSITES="epsilon_gamma_box epsilon_plus epsilon_plus_flat epsilon_alpha2_beta1 epsilon_alpha2_beta1_flat"
for r in $(seq "$ROUNDS"); do
  for t in 1 2; do
    echo "=== round $r, $t thread(s), $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/python3 bench/zennit_lrp_baseline.py --threads "$t" --repeats "$REPEATS"
    for c in $COMPOSITES; do
      OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$BUILD/lrp_bench" --composite "$c" --repeats "$REPEATS" | grep -v '^#' || true
    done
  done
done

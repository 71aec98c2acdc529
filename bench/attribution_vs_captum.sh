#!/bin/bash
# Attribution speed, CPU, cuviz and Captum alternating in one session (docs/performance.md,
# "Attribution"): maps per second for the gradient and integrated gradients (50 Gauss-Legendre
# steps, zero baseline, batch 8) on astronaut.png at 224 px, its top class, at 1 and 2 threads
# (OMP_NUM_THREADS for cuviz, torch.set_num_threads for Captum).
#   bench/attribution_vs_captum.sh [build dir, default build] [repetitions, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPS=${2:-3}
export CUVIZ_MODEL_PATH=${CUVIZ_MODEL_PATH:-../shared/weights}
echo "=== $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for threads in 1 2; do
  echo "--- cuviz, OMP_NUM_THREADS=$threads"
  OMP_NUM_THREADS=$threads "$BUILD/attribution_bench" --benchmark_repetitions="$REPS" \
    --benchmark_report_aggregates_only=true 2>&1 | grep -E "median|best_time"
  echo "--- captum, torch threads $threads"
  /usr/bin/python3 bench/captum_attribution_baseline.py --threads "$threads" --repeats "$REPS"
done

#!/bin/bash
# CPU side by side, ours and PyTorch alternating in one session (docs/performance.md, "CPU whole
# network"): network_bench's forward and step rows with 1 thread, 2 threads and 2 threads with
# passive waiting, PyTorch's network part (1 and 2 threads) and its whole render step, N rounds.
#   bench/cpu_side_by_side.sh [build dir, default build] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-3}
ONNX=../shared/weights/bvlc_googlenet/bvlc_googlenet.onnx
for r in $(seq "$ROUNDS"); do
  echo "=== round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "--- torch network only, default threads"
  /usr/bin/python3 bench/torch_network_baseline.py --steps 5 --repeats 3
  echo "--- torch network only, 2 threads"
  /usr/bin/python3 bench/torch_network_baseline.py --steps 3 --repeats 3 --threads 2
  for env in "OMP_NUM_THREADS=1" "OMP_NUM_THREADS=2" "OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive"; do
    echo "--- ours $env"
    env $env "$BUILD/network_bench" --benchmark_filter='^(step|step_split|forward)/' --benchmark_repetitions=5 \
      --benchmark_min_time=0.2 --benchmark_report_aggregates_only=true 2>&1 | grep -E "median|best_time"
  done
  echo "--- torch whole render step (../shared/bench/torch_sweep_baseline.py)"
  /usr/bin/python3 ../shared/bench/torch_sweep_baseline.py --onnx "$ONNX" --layer inception_4a/output --size 128 \
    --batch 4 --steps 20 --warmup 3 --device cpu
done

#!/bin/bash
# Two builds of cuviz side by side in one session, alternating round by round so that the load of
# a shared machine falls on both alike: network_bench's forward and render-step rows, sweep_bench
# S2 (16 channels, batch 16, 128 px) and the 16-channel `cuviz sweep` end to end. Used to show a
# refactoring leaves the speed unchanged (docs/performance.md).
#   bench/before_after.sh BEFORE_BUILD AFTER_BUILD [rounds, default 3]
# Each build needs the targets cuviz, network_bench and sweep_bench. Both run on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:?usage: bench/before_after.sh BEFORE_BUILD AFTER_BUILD [rounds]}
AFTER=${2:?usage: bench/before_after.sh BEFORE_BUILD AFTER_BUILD [rounds]}
ROUNDS=${3:-3}
export CUVIZ_MODEL_PATH=${CUVIZ_MODEL_PATH:-../shared/weights}
for b in "$BEFORE" "$AFTER"; do
  for t in cuviz network_bench sweep_bench; do
    [ -x "$b/$t" ] || { echo "before_after: $b/$t is missing (build the target first)" >&2; exit 1; }
  done
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$ROUNDS"); do
  for side in before after; do
    b=$BEFORE; [ "$side" = after ] && b=$AFTER
    echo "=== round $r $side ($b) $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$b/network_bench" --benchmark_filter='^(forward/full|forward/inception_4a/128|step/inception_4a/128)' \
      --benchmark_repetitions=5 --benchmark_min_time=0.2 --benchmark_report_aggregates_only=true 2>&1 |
      grep -E "_(median|best)" || true
    "$b/sweep_bench" --config S2 --device cpu --channels 16 --batch 16 --timed 8 --warmup 2 --repeats 3 2>&1 |
      grep -E "^S2|image-steps/s" || true
    rm -rf "$tmp/sweep"
    /usr/bin/time -f "sweep end to end: %e s wall, %U s user" "$b/cuviz" sweep googlenet --layer inception_4a/output \
      --channels 0-15 --size 128 --steps 128 --device cpu -q -o "$tmp/sweep" > /dev/null
  done
done

#!/bin/bash
# Attribution speed, CPU, cuviz and Captum alternating in one session (docs/performance.md,
# "Attribution"): maps per second for the gradient and integrated gradients (50 Gauss-Legendre
# steps, zero baseline, batch 8) on astronaut.png at 224 px, top class. cuviz's time is the
# method's own (the sidecar's methods[].seconds: plan, forwards, backwards; not the model load),
# with OMP_NUM_THREADS 1 and 2; Captum's with torch.set_num_threads 1 and 2.
#   bench/attribution_vs_captum.sh [build dir, default build] [repeats, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPEATS=${2:-5}
IMG=../shared/images/astronaut.png
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "=== $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for threads in 1 2; do
  for method in gradient integrated_gradients; do
    times=()
    for r in $(seq "$REPEATS"); do
      OMP_NUM_THREADS=$threads "$BUILD/cuviz" attribute googlenet "$IMG" --method "$method" --device cpu -q \
        --model-dir ../shared/weights -o "$TMP/a.png" > /dev/null
      times+=("$(/usr/bin/python3 -c "import json;print(json.load(open('$TMP/a.json'))['methods'][0]['seconds'])")")
    done
    printf '%s\n' "${times[@]}" | /usr/bin/python3 -c "
import statistics, sys
t = [float(v) for v in sys.stdin.read().split()]
print(f'cuviz  {\"$method\":26s} threads $threads  best {min(t):.3f} s  median {statistics.median(t):.3f} s  {1 / min(t):.3f} maps/s')"
  done
  /usr/bin/python3 bench/captum_attribution_baseline.py --threads "$threads" --repeats "$REPEATS"
done

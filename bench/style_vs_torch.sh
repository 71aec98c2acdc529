#!/bin/sh
# Style transfer speed, cuviz against PyTorch (bench/style_torch.py: the same loss, GoogLeNet,
# torch.optim.LBFGS in neural-style's fixed-step mode), iterations per second at 512 px on the CPU,
# at 1 and 2 threads. cuviz's figure is the loop's (runs[0].iterations_per_second in the JSON:
# the iterations only, not the captures and planning before them).
#   sh bench/style_vs_torch.sh [SIZE] [ITERS] [REPEATS]
set -e
SIZE=${1:-512}; ITERS=${2:-10}; REPEATS=${3:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
CUVIZ=${CUVIZ:-$HERE/build-cpu/cuviz}
SHARED=$HERE/../shared
OUT=$(mktemp -d)
for t in 1 2; do
  for r in $(seq "$REPEATS"); do
    OMP_NUM_THREADS=$t "$CUVIZ" style googlenet --model-dir "$SHARED/weights" --device cpu -q \
      --content "$SHARED/images/chelsea.png" --style "$SHARED/images/rocket.jpg" --size "$SIZE" --iters "$ITERS" \
      -o "$OUT/s.png" > /dev/null
    /usr/bin/python3 -c "import json; j=json.load(open('$OUT/s.json')); print('cuviz threads $t', j['runs'][0]['iterations_per_second'])"
  done
  /usr/bin/python3 "$HERE/bench/style_torch.py" --size "$SIZE" --iters "$ITERS" --repeats "$REPEATS" --threads "$t"
done
rm -rf "$OUT"

#!/usr/bin/env bash
# Render on an idle and on a loaded machine: `cuviz render` (the step of bench/render_vs_torch.sh:
# batch 4, 128 px, Fourier + transforms + Adam, one inception_4a channel per image) at 1 thread
# and at 2 threads under libgomp's default spin-then-sleep wait (GOMP_SPINCOUNT=300000, what
# libgomp does when nothing is set) and under OMP_WAIT_POLICY=passive (cuviz's default since it
# re-executes itself with it, apps/wait_policy.h), side by side with the PyTorch baseline
# (shared/bench/torch_sweep_baseline.py) at 1 and 2 threads. "Loaded": one busy loop per core
# (`nproc` shell loops at the same priority as the benchmark) for the whole measurement.
# Prints one line per configuration: image-steps/s, best and median of REPS runs.
#   bench/render_under_load.sh [BUILD_DIR] [STEPS] [REPS]
set -euo pipefail
build=${1:-build}
steps=${2:-10}
reps=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
weights=${CUVIZ_MODEL_PATH:-$root/../shared/weights}
out=$(mktemp -d)
loaders=()
stop_load() { for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done; loaders=(); }
trap 'stop_load; rm -rf "$out"' EXIT
unset OMP_WAIT_POLICY GOMP_SPINCOUNT

cuviz_rate() {  # env assignments...; prints image-steps/s of one run (its loop seconds)
  env "$@" CUVIZ_MODEL_PATH="$weights" "$build/cuviz" render googlenet --device cpu --size 128 --batch 4 \
    --steps "$steps" --relu-override 0 --objective inception_4a/output:0 --objective inception_4a/output:1 \
    --objective inception_4a/output:2 --objective inception_4a/output:3 -q -o "$out/r.png" > /dev/null
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(round(j['batch']*j['steps']/j['seconds'],3))" \
    "$out/r.json"
}
torch_rate() {  # threads
  /usr/bin/python3 "$root/../shared/bench/torch_sweep_baseline.py" --device cpu --threads "$1" \
    --onnx "$weights/bvlc_googlenet/bvlc_googlenet.onnx" --layer inception_4a/output --size 128 --batch 4 \
    --steps "$steps" --warmup 2 | python3 -c "import json,sys; print(json.load(sys.stdin)['image_steps_per_s'])"
}
summary() {  # label values...; best and median
  local label=$1; shift
  printf '%s\n' "$@" | sort -g | awk -v l="$label" '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2;
    printf "%-44s best %7.2f  median %7.2f image-steps/s  (%s)\n", l, v[NR], m, NR " runs"}'
}

for load in idle loaded; do
  if [ "$load" = loaded ]; then
    for _ in $(seq "$(nproc)"); do (while :; do :; done) & loaders+=($!); done
    sleep 1
  fi
  echo "== $load (load average $(cut -d' ' -f1 /proc/loadavg), $(date -u +%H:%M:%S) UTC)"
  declare -A runs=()
  for r in $(seq "$reps"); do  # interleaved, so slow drifts of the machine hit every row alike
    runs[c1]+=" $(cuviz_rate OMP_NUM_THREADS=1)"
    runs[c2s]+=" $(cuviz_rate OMP_NUM_THREADS=2 GOMP_SPINCOUNT=300000)"
    runs[c2p]+=" $(cuviz_rate OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive)"
    runs[t1]+=" $(torch_rate 1)"
    runs[t2]+=" $(torch_rate 2)"
  done
  summary "cuviz 1 thread" ${runs[c1]}
  summary "cuviz 2 threads, spin (libgomp default)" ${runs[c2s]}
  summary "cuviz 2 threads, passive (cuviz default)" ${runs[c2p]}
  summary "PyTorch 1 thread" ${runs[t1]}
  summary "PyTorch 2 threads" ${runs[t2]}
  unset runs
  stop_load
done

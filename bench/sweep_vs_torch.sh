#!/usr/bin/env bash
# Channel sweeps side by side with the PyTorch baseline (../shared/bench/torch_sweep_baseline.py),
# on one device in one run, ours and the baseline alternating round by round; prints every
# round, then the median and best of each side and their ratios (ours / baseline).
#   cpu : the acceptance configuration, inception_4a/output at 128 px, batch 16 (16 channels):
#         image-steps/s of sweep_bench against the baseline; then the end-to-end wall time of
#         `cuviz sweep googlenet --layer inception_4a/output --channels 0-15 --size 128 --steps 128
#         --device cpu` against the baseline's whole process for the same work (16 x 128 steps).
#   cuda: S1-S4 of PERFORMANCE.md with sweep_bench (all channels, automatic batch) against B1
#         (eager, channels_last, TF32 allowed, batch = channels) and B2 (B1 + torch.compile),
#         S1-S3 only (the baseline reads ONNX files; there is no VGG-19 one); then a full S1 sweep
#         with `cuviz sweep` (512 channels, 512 steps), wall time, stopped after $SWEEP_E2E_TIMEOUT
#         seconds (default 180). $SWEEP_CONFIGS picks configurations (default "S1 S2 S3 S4");
#         $SWEEP_PRECISIONS (default "bf16 tf32", empty for none) are also run with sweep_bench
#         --precision on $SWEEP_PRECISION_CONFIGS (default "S1"), reported as cases "S1-bf16" etc.
#   bench/sweep_vs_torch.sh [--device cpu|cuda] [--bin DIR] [--rounds N] [--e2e-rounds M] [--timed K]
# --bin: the directory holding sweep_bench and cuviz (default build); the shared folder is
# $CUVIZ_SHARED_DIR or ../shared beside the checkout; $PYTHON runs the baseline (default
# /usr/bin/python3 where it has torch, else python3). Defaults: cpu 5 rounds, 2 end-to-end rounds,
# 8 timed steps; cuda 1 round, 1 end-to-end round, 16 timed steps (S4: at most 8) and 2 repeats, so
# that S1-S4 with B1/B2 fit in about ten minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
device=cpu bin=$root/build rounds="" e2e_rounds="" timed=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --e2e-rounds) e2e_rounds=$2; shift 2 ;;
    --timed) timed=$2; shift 2 ;;
    *) echo "sweep_vs_torch: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$device" in
  cpu) rounds=${rounds:-5} e2e_rounds=${e2e_rounds:-2} timed=${timed:-8} ;;
  cuda) rounds=${rounds:-1} e2e_rounds=${e2e_rounds:-1} timed=${timed:-16} ;;
  *) echo "sweep_vs_torch: --device must be cpu or cuda" >&2; exit 2 ;;
esac
shared=${CUVIZ_SHARED_DIR:-$root/../shared}
onnx=$shared/weights/bvlc_googlenet/bvlc_googlenet.onnx
baseline=$shared/bench/torch_sweep_baseline.py
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null && PYTHON=/usr/bin/python3
fi
for f in "$bin/sweep_bench" "$bin/cuviz" "$onnx" "$baseline"; do
  [ -e "$f" ] || { echo "sweep_vs_torch: missing $f" >&2; exit 2; }
done
"$PYTHON" -c 'import torch, onnx' || {
  echo "sweep_vs_torch: $PYTHON lacks torch or onnx (Debian: apt-get install -y python3-torch python3-onnx)" >&2
  exit 2
}
export CUVIZ_MODEL_PATH=${CUVIZ_MODEL_PATH:-$shared/weights}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.jsonl  # one line per measurement: {"side", "case", "value", "line"}
: >"$results"

load() { cut -d' ' -f1-3 /proc/loadavg; }
# record SIDE CASE VALUE [JSON]: appends a measurement (JSON: the program's own line, kept for the summary).
record() { echo "{\"side\": \"$1\", \"case\": \"$2\", \"value\": $3, \"line\": ${4:-null}}" >>"$results"; }
json_field() { "$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
now() { date +%s.%N; }

echo "sweep_vs_torch: $(date -u '+%Y-%m-%d %H:%M UTC'), device $device, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
[ "$device" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1
echo "sweep_vs_torch: $("$PYTHON" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'),"\
     "ours OMP_NUM_THREADS=${OMP_NUM_THREADS:-default}"

if [ "$device" = cpu ]; then
  for r in $(seq "$rounds"); do
    echo "=== round $r/$rounds $(date -u +%H:%M:%S) load $(load)"
    line=$("$bin/sweep_bench" --config S2 --channels 16 --batch 16 --timed "$timed" --warmup 2 --repeats 1 | tail -1)
    ips=$(json_field "$line" image_steps_per_s)
    echo "ours     inception_4a/output 128 px batch 16: $ips image-steps/s"
    record ours steps "$ips"
    line=$("$PYTHON" "$baseline" --onnx "$onnx" --layer inception_4a/output --size 128 --batch 16 --steps "$timed" \
             --warmup 2 --device cpu | tail -1)
    ips=$(json_field "$line" image_steps_per_s)
    echo "pytorch  inception_4a/output 128 px batch 16: $ips image-steps/s"
    record torch steps "$ips"
  done
  for r in $(seq "$e2e_rounds"); do
    echo "=== end-to-end round $r/$e2e_rounds $(date -u +%H:%M:%S) load $(load)"
    t0=$(now)
    "$bin/cuviz" sweep googlenet --layer inception_4a/output --channels 0-15 --size 128 --steps 128 --device cpu \
      -q -o "$work/sweep$r" >/dev/null
    s=$("$PYTHON" -c "print(round($(now) - $t0, 2))")
    echo "ours     cuviz sweep, 16 channels x 128 steps: $s s"
    record ours e2e "$s"
    t0=$(now)
    "$PYTHON" "$baseline" --onnx "$onnx" --layer inception_4a/output --size 128 --batch 16 --steps 128 --warmup 0 \
      --device cpu >/dev/null
    s=$("$PYTHON" -c "print(round($(now) - $t0, 2))")
    echo "pytorch  whole process, 16 images x 128 steps: $s s"
    record torch e2e "$s"
  done
else
  configs=${SWEEP_CONFIGS:-S1 S2 S3 S4}
  failed=0
  declare -A layer=([S1]=inception_4a/output [S2]=inception_4a/output [S3]=inception_4d/output)
  declare -A size=([S1]=224 [S2]=128 [S3]=224)
  declare -A chans=([S1]=512 [S2]=512 [S3]=528)
  for r in $(seq "$rounds"); do
    for c in $configs; do
      echo "=== round $r/$rounds $c $(date -u +%H:%M:%S)"
      k=$timed
      [ "$c" = S4 ] && [ "$k" -gt 8 ] && k=8  # VGG: 18 GMACs per image-step
      if ! line=$("$bin/sweep_bench" --config "$c" --device cuda --timed "$k" --warmup 2 --repeats 2 2>"$work/err" |
                  tail -1); then
        echo "ours     $c: FAILED: $(tail -3 "$work/err" | tr '\n' ' ')"
        failed=1
        continue
      fi
      echo "ours     $c: $line"
      record ours "$c" "$(json_field "$line" image_steps_per_s)" "$line"
      # The tensor-core precisions (--precision, docs/gpu.md) on the configurations in
      # $SWEEP_PRECISION_CONFIGS (default S1), each a case of its own ("S1-bf16").
      for p in ${SWEEP_PRECISIONS-bf16 tf32}; do
        [[ " ${SWEEP_PRECISION_CONFIGS:-S1} " == *" $c "* ]] || continue
        if line=$("$bin/sweep_bench" --config "$c" --device cuda --timed "$k" --warmup 2 --repeats 2 --precision "$p" \
                    2>"$work/err" | tail -1); then
          echo "ours     $c $p: $line"
          record ours "$c-$p" "$(json_field "$line" image_steps_per_s)" "$line"
        else
          echo "ours     $c $p: FAILED: $(tail -3 "$work/err" | tr '\n' ' ')"
          failed=1
        fi
      done
      [ -n "${layer[$c]:-}" ] || { echo "pytorch  $c: no baseline (no VGG-19 ONNX file)"; continue; }
      for b in B1 B2; do
        flags=(--channels-last)
        [ $b = B2 ] && flags+=(--compile)
        if line=$("$PYTHON" "$baseline" --onnx "$onnx" --layer "${layer[$c]}" --size "${size[$c]}" --batch "${chans[$c]}" \
                    --steps "$timed" --warmup 5 --device cuda "${flags[@]}" 2>"$work/err" | tail -1); then
          echo "pytorch  $c $b: $line"
          record "$b" "$c" "$(json_field "$line" image_steps_per_s)"
        else
          echo "pytorch  $c $b: FAILED: $(tail -3 "$work/err" | tr '\n' ' ')"
        fi
      done
    done
  done
  for r in $(seq "$e2e_rounds"); do
    echo "=== end-to-end round $r/$e2e_rounds $(date -u +%H:%M:%S)"
    t0=$(now)
    if timeout "${SWEEP_E2E_TIMEOUT:-180}" "$bin/cuviz" sweep googlenet --layer inception_4a/output --size 224 \
         --steps 512 --device cuda -q -o "$work/sweep$r" >/dev/null; then
      s=$("$PYTHON" -c "print(round($(now) - $t0, 2))")
      echo "ours     cuviz sweep S1 (512 channels x 512 steps): $s s = $("$PYTHON" -c "print(round(512 / $s, 2))") ch/s"
      record ours e2e "$s"
    else
      failed=1
      echo "ours     cuviz sweep S1 (512 channels x 512 steps): stopped or failed after $("$PYTHON" -c \
        "print(round($(now) - $t0, 1))") s (limit ${SWEEP_E2E_TIMEOUT:-180} s)"
    fi
  done
fi

echo "=== summary (load $(load))"
"$PYTHON" - "$results" "$device" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def vals(side, case): return [r['value'] for r in rows if r['side'] == side and r['case'] == case]
def stats(v, higher_better):
    return statistics.median(v), (max(v) if higher_better else min(v))
cases = sorted({r['case'] for r in rows}, key=lambda c: (c == 'e2e', c))
for case in cases:
    higher = case != 'e2e'
    unit = 'image-steps/s' if higher else 's wall'
    ours = vals('ours', case)
    if not ours: continue
    om, ob = stats(ours, higher)
    extra = ''
    lines = [r['line'] for r in rows if r['side'] == 'ours' and r['case'] == case and r['line']]
    if lines and 'tflops' in lines[0]:
        j = sorted(lines, key=lambda l: l['image_steps_per_s'])[len(lines) // 2]
        extra = (f"; {j['channels_per_s_at_512_steps']:.2f} ch/s at 512 steps ({j['channels_per_s_end_to_end']:.2f}"
                 f" end to end), {j['tflops']:.2f} TFLOP/s = {j['percent_of_limit']:.1f}% of the {j.get('precision', 'fp32')} limit, batch {j['batch']}")
    print(f"{case:6s} ours     median {om:10.2f}  best {ob:10.2f} {unit}  (n={len(ours)}){extra}")
    for side in ('torch', 'B1', 'B2'):
        base = vals(side, case.split('-')[0])  # S1-bf16 against S1's baselines
        if not base: continue
        bm, bb = stats(base, higher)
        rm, rb = (om / bm, ob / bb) if higher else (bm / om, bb / ob)
        print(f"{case:6s} {side:8s} median {bm:10.2f}  best {bb:10.2f} {unit}  (n={len(base)})  "
              f"ours faster by x{rm:.2f} (median) x{rb:.2f} (best)")
EOF
[ "${failed:-0}" = 0 ]

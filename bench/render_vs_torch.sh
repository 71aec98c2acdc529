#!/usr/bin/env bash
# One render step side by side: `cuviz render` (batch 4, 128 px, one channel of inception_4a/output
# per image, Fourier + standard transforms + Adam) against the PyTorch baseline with the same
# settings, on the same device. Prints both JSON lines; steps/s = steps / seconds of the loop.
#   bench/render_vs_torch.sh [BUILD_DIR] [cpu|cuda] [STEPS]
set -euo pipefail
build=${1:-build}
device=${2:-cpu}
steps=${3:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
weights=${CUVIZ_MODEL_PATH:-$root/../shared/weights}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# --relu-override 0: the baseline has no ReLU gradient override (render's default is Lucid's 16).
CUVIZ_MODEL_PATH=$weights "$build/cuviz" render googlenet --device "$device" --size 128 --batch 4 --steps "$steps" \
  --relu-override 0 --objective inception_4a/output:0 --objective inception_4a/output:1 --objective inception_4a/output:2 \
  --objective inception_4a/output:3 -q -o "$out/r.png" > /dev/null
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(json.dumps({'engine':'cuviz','device':j['device'],
'size':j['size'],'batch':j['batch'],'steps':j['steps'],'seconds':round(j['seconds'],3),
'image_steps_per_s':round(j['batch']*j['steps']/j['seconds'],2)}))" "$out/r.json"
/usr/bin/python3 "$root/../shared/bench/torch_sweep_baseline.py" --onnx "$weights/bvlc_googlenet/bvlc_googlenet.onnx" \
  --layer inception_4a/output --size 128 --batch 4 --steps "$steps" --device "$device"

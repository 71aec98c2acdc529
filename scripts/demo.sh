#!/usr/bin/env bash
# The main job: set up (Debian packages, build), find or fetch BVLC GoogLeNet, and sweep the
# first 16 channels of inception_4a/output into a browsable gallery. On a GPU: full settings
# (224 px, 512 steps); on the CPU: 128 px and 128 steps, a few minutes on 2 cores.
# Ends by printing the path of the gallery's index.html.
#   OUT=DIR bash scripts/demo.sh        # another output directory (default: out/sweep_inception_4a)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" >/dev/null
cmake --build build -j"$(nproc)" --target cuviz

# The model: the search path ($CUVIZ_MODEL_PATH, ./weights, ~/.cache/cuviz), else a shared
# weights folder beside the checkout, else the official download.
if ! ./build/cuviz info googlenet >/dev/null 2>&1; then
  if [ -f ../shared/weights/bvlc_googlenet/bvlc_googlenet.caffemodel ]; then
    export CUVIZ_MODEL_PATH="$(cd ../shared/weights && pwd)${CUVIZ_MODEL_PATH:+:$CUVIZ_MODEL_PATH}"
  else
    weights/fetch.sh googlenet
  fi
fi

out=${OUT:-out/sweep_inception_4a}
if ./build/cuviz sweep --help >/dev/null && nvidia-smi >/dev/null 2>&1; then
  size=224 steps=512   # PERFORMANCE.md's settings on a GPU
else
  size=128 steps=128   # small enough for a 2-core CPU
fi
./build/cuviz sweep googlenet --layer inception_4a/output --channels 0-15 --size "$size" --steps "$steps" -o "$out"

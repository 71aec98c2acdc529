#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs the dependencies, configures (CUDA on
# when nvcc is found), builds everything and runs every test. GPU tests skip without a device.
#   CUVIZ_CUDA=OFF bash scripts/test.sh     # CPU-only build
#   CUDA_ARCHS="80;90" bash scripts/test.sh  # other GPU architectures (default: 90)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUVIZ_CUDA="${CUVIZ_CUDA:-AUTO}" \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 900

# ---- the installed package (issue 17): `cmake --install` into a temporary prefix, a separate
# consumer project through find_package(cuviz) and through pkg-config, and no linked-but-unused
# library, a BUILD_TESTING=OFF configure without GoogleTest (scripts/package-check.sh). About
# 15 s on 2 cores (one small compile + link each way; measured 11-14 s under a load average of 12).
bash scripts/package-check.sh "$build"

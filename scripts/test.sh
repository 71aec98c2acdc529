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

# ---- sanitizers (issue 16): the CPU code built with ASan + UBSan (build-sanitize/) and the whole
# CPU test suite run on it; any heap error, leak or undefined behaviour fails. See
# scripts/sanitize.sh and docs/reliability.md ("Sanitizers") for its cost. CUVIZ_SANITIZE=0 skips it
# (a quick local run); CI always runs it.
if [ "${CUVIZ_SANITIZE:-1}" != 0 ]; then
  bash scripts/sanitize.sh
fi

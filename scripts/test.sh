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
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" \
      -DCUVIZ_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 900

# ---- builds the way users build (issue 16, docs/reliability.md "Builds"): `ctest -L gpu` selects
# the GPU tests, and CMake's default generator (Unix Makefiles) configures and runs protoc, which
# once wrote into a folder only Ninja created. About 10 s (one configure, one protobuf compile).
gpu_tests=$(ctest --test-dir "$build" -L gpu -N | sed -n 's/^Total Tests: //p')
[ "${gpu_tests:-0}" -gt 0 ] || { echo "test.sh: ctest -L gpu selects no test" >&2; exit 1; }
echo "test.sh: ctest -L gpu selects $gpu_tests tests"
makebuild=$(mktemp -d)
cmake -S . -B "$makebuild" -DCUVIZ_CUDA=OFF -DBUILD_TESTING=OFF > "$makebuild.log" 2>&1 \
  || { cat "$makebuild.log"; echo "test.sh: CMake's default generator does not configure" >&2; exit 1; }
make -C "$makebuild" -s proto/loaders/caffe.pb.o > "$makebuild.log" 2>&1 \
  || { cat "$makebuild.log"; echo "test.sh: the Unix Makefiles build cannot generate the protobuf sources" >&2; exit 1; }
rm -rf "$makebuild" "$makebuild.log"
echo "test.sh: CMake's default generator configures and generates the protobuf sources"

# --profile: two profiles of a small render (the CPU, 64 px, 2 steps, batch 1 and 2) compared by
# bench/compare_profiles.py, which otherwise no test runs (docs/profiling.md). Skipped without the
# shared GoogLeNet weights or python3. About 2 s on 2 cores.
shared=${CUVIZ_SHARED_DIR:-$PWD/../shared}
if [ -f "$shared/weights/bvlc_googlenet/bvlc_googlenet.caffemodel" ] && command -v python3 >/dev/null; then
  prof=$(mktemp -d)
  for b in 1 2; do
    OMP_NUM_THREADS=1 "$build/cuviz" render googlenet --model-dir "$shared/weights" --objective inception_3a/output:5 --size 64 \
      --batch "$b" --device cpu --profile 2 --profile-json "$prof/b$b.json" > /dev/null 2>&1
  done
  compared=$(python3 bench/compare_profiles.py "$prof/b1.json" "$prof/b2.json" --top 5)
  grep -q "step ratio after/before" <<< "$compared"
  rm -rf "$prof"
fi
# ---- the installed package (issue 17): `cmake --install` into a temporary prefix, a separate
# consumer project through find_package(cuviz) and through pkg-config, and no linked-but-unused
# library, a BUILD_TESTING=OFF configure without GoogleTest (scripts/package-check.sh). About
# 15 s on 2 cores (one small compile + link each way; measured 11-14 s under a load average of 12).
bash scripts/package-check.sh "$build"
# ---- the Python module (python/, docs/python.md): its pytest suite against the module built
# above (Debian's /usr/bin/python3, the module from $build/python, the CLI it is compared with from
# $build) and the notebook example run top to bottom as a script. Cost: about 30 s (pytest 7 s,
# the notebook 20 s, on the shared 2 cores) plus the module's one compile in the build above
# (about 25 s of CPU). CUVIZ_PIP_CHECK=1 also runs scripts/pip-check.sh: `pip install .` in a
# fresh virtual environment, the acceptance lines and pytest against the installed package. It
# builds the libraries a second time (6 min of CPU with a partly warm ccache, more without), so
# it is off by default.
build_abs=$(cd "$build" && pwd)
PYTHONPATH="$build_abs/python" CUVIZ_BINARY="$build_abs/cuviz" /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests
PYTHONPATH="$build_abs/python" /usr/bin/python3 examples/notebook.py "$build_abs/notebook" --quick
if [ "${CUVIZ_PIP_CHECK:-0}" = 1 ]; then
  bash scripts/pip-check.sh
fi
# ---- sanitizers (issue 16): the CPU code built with ASan + UBSan (build-sanitize/) and the whole
# CPU test suite run on it; any heap error, leak or undefined behaviour fails. See
# scripts/sanitize.sh and docs/reliability.md ("Sanitizers") for its cost. CUVIZ_SANITIZE=0 skips it
# (a quick local run); CI always runs it.
if [ "${CUVIZ_SANITIZE:-1}" != 0 ]; then
  bash scripts/sanitize.sh
fi
# ---- fuzzing (issue 16): every libFuzzer target of tests/fuzz/ built with clang 19 (ASan + UBSan
# + libFuzzer, build-fuzz/) and run for CUVIZ_FUZZ_SECONDS each (default 10) from its corpus, so
# every seed and every regression input (a past finding) is replayed first, then mutated. Any
# crash, leak, hang, sanitizer report or exception other than cuviz::Error fails. The long runs
# (10^6 executions per target) are recorded in docs/reliability.md ("Fuzzing"). 0 skips it.
if [ "${CUVIZ_FUZZ_SECONDS:-10}" != 0 ]; then
  bash scripts/fuzz.sh "${CUVIZ_FUZZ_SECONDS:-10}"
fi

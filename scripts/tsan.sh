#!/usr/bin/env bash
# Data races in the OpenMP paths: the CPU code built with ThreadSanitizer (CMake option
# CUVIZ_TSAN, build folder build-tsan/, clang 19 with LLVM's OpenMP) and the library tests run
# with 4 OpenMP threads under Archer, LLVM's OpenMP tool for TSan, which reports the OpenMP
# runtime's synchronisation (barriers, reductions, tasks) to TSan. (gcc's libgomp is not built
# for TSan, which then reports every parallel loop.) Libraries not built here (OpenBLAS,
# protobuf) are not instrumented: TSan ignores their accesses. A positive control runs first.
# A report fails the test that caused it (TSan exits 66).
#   bash scripts/tsan.sh                 # build + the core, io, kernels, nn, loaders, viz tests
#   bash scripts/tsan.sh -R OpTable      # extra arguments replace the label selection (ctest)
# Not part of CI (a third instrumented build does not fit its budget); the recorded run is in
# docs/reliability.md ("Sanitizers"). CI's race check is the determinism tests (1 and 2 threads).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TSAN_BUILD_DIR:-build-tsan}
jobs=${JOBS:-$(nproc)}
pick() { for v in 19 18 17 ""; do command -v "$1${v:+-$v}" && return; done; return 0; }
cxx=${CXX_TSAN:-$(pick clang++)}
cc=${CC_TSAN:-$(pick clang)}
[ -n "$cxx" ] || { echo "tsan.sh: needs clang (Debian 12: clang-19 libomp-19-dev)" >&2; exit 1; }
archer=$("$cxx" -print-resource-dir | sed 's|/lib/clang/.*||')/lib/libarcher.so
[ -f "$archer" ] || { echo "tsan.sh: no $archer (LLVM's OpenMP: Debian's libomp-19-dev)" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUVIZ_CUDA=OFF -DCUVIZ_TSAN=ON \
  -DCUVIZ_BUILD_BENCH=OFF -DCUVIZ_MPI=OFF -DCUVIZ_PYTHON=OFF -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$build" -j"$jobs"
export OMP_TOOL_LIBRARIES=$archer
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:exitcode=66:second_deadlock_stack=1:ignore_noninstrumented_modules=1}
# The positive control: a loop with a known race must be reported, or a clean run proves nothing.
"$cxx" -std=c++20 -O1 -g -fsanitize=thread -fopenmp tests/tsan/race_control.cpp -o "$build/race_control"
if ARCHER_OPTIONS=verbose=1 "$build/race_control" > "$build/race_control.log" 2>&1; then
  echo "tsan.sh: TSan did not report the known race of tests/tsan/race_control.cpp" >&2; exit 1
fi
grep -q "WARNING: ThreadSanitizer: data race" "$build/race_control.log" && grep -q "race_control.cpp:12" "$build/race_control.log" \
  || { cat "$build/race_control.log"; echo "tsan.sh: the control failed without a TSan race report" >&2; exit 1; }
grep -q "Archer detected" "$build/race_control.log" || { echo "tsan.sh: Archer ($archer) was not loaded" >&2; exit 1; }
echo "tsan.sh: the control's race is reported (tests/tsan/race_control.cpp:12), Archer is loaded"
if [ $# -eq 0 ]; then set -- -L '^(core|io|kernels|nn|loaders|viz)$' -LE gpu; fi
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 3600 "$@"

#!/usr/bin/env bash
# The sanitizer job of CI (scripts/test.sh calls it): a CPU-only build with AddressSanitizer +
# UndefinedBehaviorSanitizer (CMake option CUVIZ_SANITIZE, build folder build-sanitize/) running
# the whole CPU test suite. A heap error, a leak or any undefined behaviour fails the test that
# caused it (UBSan does not recover; ASan stops at the first error; LeakSanitizer runs at exit).
#   bash scripts/sanitize.sh            # build + every test
#   bash scripts/sanitize.sh -R Npy     # extra arguments go to ctest (a subset while fixing)
# The OpenMP runtime (libgomp) is not instrumented: ASan sees the memory the parallel loops touch
# (they run instrumented code) but nothing of libgomp's own; races are checked by the determinism
# tests instead (docs/reliability.md, "Sanitizers").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SANITIZE_BUILD_DIR:-build-sanitize}
jobs=${JOBS:-$(nproc)}
# Release (-O3): the instrumented tests on real GoogLeNet run their forward and backward passes
# at close to the ordinary build's speed (OpenBLAS, which does most of the arithmetic, is not
# instrumented), and ccache keeps a second build cheap.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUVIZ_CUDA=OFF -DCUVIZ_SANITIZE=ON \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$build" -j"$jobs"
# detect_leaks: LeakSanitizer at every exit; abort_on_error=0: a report exits 1 (a failing test,
# with its stack in the test log). UBSan: halt on the first report, with a stack.
# One OpenMP thread per test process, ctest running as many processes as there are cores: the
# sanitizers check the same code at any thread count, and 2 threads per process on 2 cores with
# 2 processes would only oversubscribe the machine.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 1800 "$@"

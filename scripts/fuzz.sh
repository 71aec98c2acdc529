#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan + libFuzzer) in
# build-fuzz/ and runs each for SECONDS (default 60) from a copy of its seed corpus
# (tests/fuzz/corpus/<target>, made by tests/fuzz/make_corpus.py). Findings are written to
# build-fuzz/findings/<target>/; the last lines of each run's log are printed (executions,
# coverage). CI (scripts/test.sh) runs every target for 10 s; docs/reliability.md records the long
# runs.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   FUZZ_RUNS=1000000 scripts/fuzz.sh 3600 npy_fuzz   # stop at 10^6 executions (or SECONDS)
# Needs clang 17 or later (class template argument deduction for aggregates, which viz/settings.h
# uses) with its libFuzzer runtime and OpenMP; Debian 12: clang-19 libclang-rt-19-dev libomp-19-dev
# (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
pick() { for v in 19 18 17 ""; do command -v "$1${v:+-$v}" && return; done; return 0; }
cxx=${CXX_FUZZ:-$(pick clang++)}
cc=${CC_FUZZ:-$(pick clang)}
major=$("$cxx" -dumpversion 2>/dev/null | cut -d. -f1)
if [ -z "$cxx" ] || [ "${major:-0}" -lt 17 ]; then
  echo "fuzz.sh: needs clang 17 or later (found: ${cxx:-none} ${major:-}); Debian 12: apt-get install clang-19 libclang-rt-19-dev libomp-19-dev" >&2
  exit 1
fi
jobs=${JOBS:-2}
# A build folder made by another compiler cannot be reconfigured in place.
if [ -f build-fuzz/CMakeCache.txt ] && ! grep -q "CMAKE_CXX_COMPILER:[A-Z]*=$cxx\$" build-fuzz/CMakeCache.txt; then
  rm -rf build-fuzz/CMakeFiles build-fuzz/CMakeCache.txt
fi
cmake -S . -B build-fuzz -G Ninja -DCUVIZ_CUDA=OFF -DCUVIZ_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"
[ -d tests/fuzz/corpus ] || python3 tests/fuzz/make_corpus.py
for t in "${targets[@]}"; do
  name=${t%_fuzz}
  work=build-fuzz/corpus/$name findings=build-fuzz/findings/$name
  mkdir -p "$work" "$findings"
  cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
  echo "== $t: ${seconds} s"
  # -rss_limit_mb / -malloc_limit_mb: a hostile input may cost at most this much memory;
  # -timeout: or this many seconds.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ./build-fuzz/"$t" "$work" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -rss_limit_mb=2560 -malloc_limit_mb=2560 -timeout=10 \
    -artifact_prefix="$findings"/ -print_final_stats=1 2>build-fuzz/"$t".log || {
    echo "$t: FAILED, see build-fuzz/$t.log and $findings"; tail -30 build-fuzz/"$t".log; exit 1; }
  grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|cov:" build-fuzz/"$t".log | tail -3
done

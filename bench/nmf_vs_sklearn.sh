#!/usr/bin/env bash
# NMF of a 784 x 832 activation matrix (GoogLeNet inception_4e/output on astronaut.png at 448 px),
# k = 6, 200 iterations, CPU: cuviz (viz/factorize.h, bench/factorize_bench.cpp) beside
# scikit-learn, each at 1 and 2 threads; best and median of 7 runs. docs/performance.md records it.
#   bench/nmf_vs_sklearn.sh [BUILD_DIR=build-cpu]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cpu}
x=$(mktemp --suffix=.npy)
trap 'rm -f "$x"' EXIT
echo "== scikit-learn"
OMP_NUM_THREADS=2 /usr/bin/python3 bench/sklearn_nmf_bench.py "$x" 7
for t in 1 2; do
  echo "== cuviz, $t thread(s)"
  OMP_NUM_THREADS=$t "$build/factorize_bench" "$x" 6 200 7
done
# libgomp spin-waits at every barrier by default; on a loaded machine the partner thread is
# often descheduled and each of the ~8 barriers an iteration costs a time slice.
echo "== cuviz, 2 threads, OMP_WAIT_POLICY=passive"
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive "$build/factorize_bench" "$x" 6 200 7

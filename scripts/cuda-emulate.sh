#!/usr/bin/env bash
# Runs the kernel GPU tests (tests/kernels/*_cuda_test.cpp) without a GPU, on a host emulation
# of the CUDA kernels (tests/cuda_emulation/: launches rewritten to serial loops, one thread per
# block, the tiled GEMM replaced by a naive loop over the same problem structs, device memory =
# host memory). It checks every kernel's index maths and epilogue against the CPU references;
# races, the GEMM's shared-memory schedule, the cuDNN/cuBLAS oracle and speed need a real GPU
# (scripts/gpu-check.sh). Also L-BFGS's vector kernels (optim/lbfgs.cu, tests/viz/lbfgs_cuda_test.cpp).
# Build output: build-emu/.   Usage: bash scripts/cuda-emulate.sh [gtest args]
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-emu
mkdir -p "$out/src/kernels" "$out/obj"
flags=(-std=c++20 -O2 -fopenmp -DNDEBUG -DCUVIZ_HAS_CUDA=0 -Itests/cuda_emulation -I"$out/src" -I. -Itests -w)
sources=(core/tensor.cpp core/exec_context.cpp kernels/cudnn_oracle_disabled.cpp tests/cuda_emulation/cuda_runtime_emu.cpp
         nn/graph.cpp nn/layer_ops.cpp)  # the op table, which tests/kernels/op_table_cuda_test drives
for f in kernels/*.cpp; do
  case "$f" in kernels/cuda_ops_disabled.cpp|kernels/cudnn_oracle_disabled.cpp) ;; *) sources+=("$f") ;; esac
done
# Headers that launch kernels (kernels/elementwise.cuh) are rewritten too, into $out/src, which
# comes before the tree on the include path; those the emulation replaces outright
# (tests/cuda_emulation/kernels/gemm_tile.cuh) come first and are skipped here.
for f in kernels/*.cuh; do
  if [ ! -e "tests/cuda_emulation/$f" ] && grep -q '<<<' "$f"; then
    python3 tests/cuda_emulation/rewrite_launches.py "$f" "$out/src/$f"
  fi
done
for f in kernels/*.cu; do
  [ "$f" = kernels/cudnn_oracle.cu ] && continue
  python3 tests/cuda_emulation/rewrite_launches.py "$f" "$out/src/${f%.cu}_emu.cpp"
  sources+=("$out/src/${f%.cu}_emu.cpp")
done
objs=()
for f in "${sources[@]}"; do
  o="$out/obj/$(echo "$f" | tr / _).o"
  if [ ! -e "$o" ] || [ "$f" -nt "$o" ] || [ -n "$(find core kernels nn tests/cuda_emulation -newer "$o" -name '*.h' -o -newer "$o" -name '*.cuh' | head -1)" ]; then
    g++ "${flags[@]}" -c "$f" -o "$o"
  fi
  objs+=("$o")
done
status=0
for t in tests/kernels/*_cuda_test.cpp; do
  name=$(basename "${t%.cpp}")
  g++ "${flags[@]}" "$t" "${objs[@]}" -o "$out/$name" -lopenblas -lgtest -lgtest_main -lpthread
  echo "== $name (emulated)"
  "$out/$name" "$@" || status=1
done
# L-BFGS's device vector operations (optim/lbfgs.cu) and their GPU test, the same way.
mkdir -p "$out/src/optim"
python3 tests/cuda_emulation/rewrite_launches.py optim/lbfgs.cu "$out/src/optim/lbfgs_emu.cpp"
g++ "${flags[@]}" tests/viz/lbfgs_cuda_test.cpp optim/lbfgs.cpp "$out/src/optim/lbfgs_emu.cpp" \
  "$out/obj/core_tensor.cpp.o" "$out/obj/core_exec_context.cpp.o" "$out/obj/tests_cuda_emulation_cuda_runtime_emu.cpp.o" \
  -o "$out/lbfgs_cuda_test" -lopenblas -lgtest -lgtest_main -lpthread
echo "== lbfgs_cuda_test (emulated)"
"$out/lbfgs_cuda_test" "$@" || status=1
exit $status

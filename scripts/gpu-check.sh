#!/usr/bin/env bash
# The one command for GPU verification, in two halves (docs/gpu.md):
#   bash scripts/gpu-check.sh --package [--with-torch-baseline] [--with-cuda-libs]
#       HERE (build machine, no GPU needed): builds build-gpu/ for sm_90 (-DCUVIZ_CUDA=ON
#       -DCMAKE_CUDA_ARCHITECTURES=90) and fills device/ (git-ignored) with the GPU test and
#       benchmark executables, the shared libraries they load that a bare GPU machine lacks (found
#       with ldd), and copies of the weights/images they read (device/shared).
#   bash scripts/gpu-check.sh --run [tests] [memcheck] [racecheck] [initcheck] [synccheck] [sanitize] [bench] [torch] [sweep]
#       ON THE GPU MACHINE (no network, no Debian build dependencies, CUDA driver + runtime
#       present): nvidia-smi, every GPU test, each GPU test binary once under each of
#       compute-sanitizer's memcheck, racecheck, initcheck and synccheck ("sanitize" names all
#       four), the kernel benchmarks, optionally the PyTorch baseline, the
#       channel-sweep configurations S1-S4 beside the baselines B1/B2 (bench/sweep_vs_torch.sh;
#       B1/B2 need --with-torch-baseline and a python3 with torch and onnx), and a summary table last; naming stages runs only those (all by default), e.g. one stage per
#       call where a call is limited to 10 minutes. Logs go to device/logs (and to $OUT when
#       set). Exit 0 = every step passed.
# Environment: SANITIZER_FILTER (gtest filter under the sanitizers, default skips the largest
# shapes), SANITIZER_TIMEOUT (seconds per binary and tool, default 120), BENCH_FILTER
# (benchmark filter), CUVIZ_BENCH_BATCH (benchmark batch, default 32), SWEEP_CONFIGS (sweep stage
# configurations, default "S1 S2 S3 S4"), SWEEP_ROUNDS (sweep stage rounds, default 1),
# SWEEP_E2E_ROUNDS (full S1 `cuviz sweep` runs in the sweep stage, default 1).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dev=device

die() { echo "gpu-check: $*" >&2; exit 2; }

# Executables that need a GPU: tests named *_cuda_test.cpp or *_test.cu, benchmarks *_bench.cu,
# the cuviz CLI (for sweeps on the GPU machine) and sweep_bench (the sweep stage).
gpu_targets() {
  local f area name
  for f in tests/*/*_cuda_test.cpp tests/*/*_test.cu; do
    [ -e "$f" ] || continue
    area=$(basename "$(dirname "$f")"); name=$(basename "$f"); name=${name%.*}
    echo "${area}_${name}"
  done
  for f in bench/*_bench.cu; do
    [ -e "$f" ] || continue
    name=$(basename "$f"); echo "${name%.cu}"
  done
  echo cuviz
  echo sweep_bench
}

# Libraries never copied: the C runtime and the GCC runtime (the GPU machine's are at least as
# new), and the CUDA driver (must match the machine's kernel module).
system_lib() {
  case "$1" in
    linux-vdso*|ld-linux*|libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libstdc++.so*|libgcc_s.so*|libcuda.so*) return 0 ;;
  esac
  return 1
}
# The big CUDA math libraries (cuBLAS 570 MB, cuDNN 480 MB, cuFFT 270 MB) exceed what a device
# transfer carries (64 MiB); the GPU machine has them (CUDA toolkit, or PyTorch's nvidia-* wheels).
cuda_math_lib() {
  case "$1" in
    libcublas*|libcudnn*|libcufft*) return 0 ;;
  esac
  return 1
}

package() {
  local with_torch=0 with_cuda=0 a
  for a in "$@"; do
    case "$a" in
      --with-torch-baseline) with_torch=1 ;;
      --with-cuda-libs) with_cuda=1 ;;
      *) die "unknown --package option $a" ;;
    esac
  done
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || die "--package needs nvcc (CUDA toolkit) on this machine"
  # The shared data path is compiled in relative to the repository root, where --run executes.
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUVIZ_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DCUVIZ_SHARED_DIR:STRING=device/shared || die "cmake configure failed"
  mapfile -t targets < <(gpu_targets)
  cmake --build build-gpu -j"${JOBS:-2}" --target "${targets[@]}" || die "build failed"

  rm -rf "$dev"
  mkdir -p "$dev/bin" "$dev/lib" "$dev/shared/weights"
  local t lib path name
  for t in "${targets[@]}"; do cp build-gpu/"$t" "$dev/bin/" || die "missing build-gpu/$t"; done
  for t in "${targets[@]}"; do
    while read -r name path; do
      [ -n "$path" ] || continue
      system_lib "$name" && continue
      if cuda_math_lib "$name" && [ $with_cuda = 0 ]; then continue; fi
      [ -e "$dev/lib/$name" ] || cp -L "$path" "$dev/lib/$name"
    done < <(ldd "build-gpu/$t" | awk '/=> \// {print $1, $3}')
  done
  local shared=../shared
  [ -d "$shared" ] || die "no ../shared beside the checkout (weights and images)"
  cp -r "$shared/images" "$dev/shared/"
  cp -r "$shared/weights/labels" "$shared/weights/reference" "$shared/weights/squeezenet_v1.1" "$dev/shared/weights/"
  cp "$shared/weights/README.md" "$dev/shared/weights/"
  mkdir -p "$dev/shared/weights/bvlc_googlenet"
  cp "$shared/weights/bvlc_googlenet/deploy.prototxt" "$shared/weights/bvlc_googlenet/bvlc_googlenet.caffemodel" \
     "$dev/shared/weights/bvlc_googlenet/"
  if [ $with_torch = 1 ]; then
    cp "$shared/weights/bvlc_googlenet/bvlc_googlenet.onnx" "$dev/shared/weights/bvlc_googlenet/"
    mkdir -p "$dev/shared/bench" && cp "$shared/bench/torch_sweep_baseline.py" "$dev/shared/bench/"
  fi
  chmod -R u+w "$dev"
  # A device transfer carries at most 64 MiB: compress the large files (--run unpacks them).
  local limit=$((60 * 1024 * 1024)) size f
  size=$(du -sb "$dev" | cut -f1)
  if [ "$size" -gt "$limit" ]; then
    while IFS= read -r f; do xz -T2 -6 "$f"; done < <(find "$dev" -type f -size +2M ! -name '*.xz')
  fi
  size=$(du -sb "$dev" | cut -f1)
  echo "gpu-check: packaged ${#targets[@]} executables into $dev/ ($((size / 1024 / 1024)) MiB):"
  ls "$dev/bin" | sed 's/^/  bin\//'
  ls "$dev/lib" | sed 's/^/  lib\//'
  [ "$size" -le $((64 * 1024 * 1024)) ] || echo "gpu-check: WARNING: $dev is over 64 MiB, more than one device transfer carries" >&2
  echo "gpu-check: on the GPU machine run: bash scripts/gpu-check.sh --run"
}

# Where the GPU machine keeps the CUDA math libraries: the toolkit, or PyTorch's nvidia-* wheels.
cuda_lib_dirs() {
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && echo "$d"
  done
  if command -v python3 >/dev/null; then
    python3 - <<'EOF' 2>/dev/null
import glob, os
try:
    import nvidia
    for base in nvidia.__path__:
        for d in sorted(glob.glob(os.path.join(base, '*', 'lib'))):
            print(d)
except Exception:
    pass
EOF
  fi
}

declare -a rows=()
failures=0
row() { rows+=("$(printf '%-44s %-8s %s' "$1" "$2" "$3")"); [ "$2" = FAIL ] && failures=$((failures + 1)); return 0; }

# Runs a gtest binary; records PASS/FAIL/SKIP with its counts.
run_gtest() {
  local label=$1 log=$2; shift 2
  local start=$SECONDS rc
  "$@" --gtest_color=no >"$log" 2>&1
  rc=$?
  local passed skipped failed
  passed=$(grep -oP '^\[  PASSED  \] \K[0-9]+' "$log" | tail -1)
  skipped=$(grep -oP '^\[  SKIPPED \] \K[0-9]+(?= test)' "$log" | tail -1)
  failed=$(grep -oP '^\[  FAILED  \] \K[0-9]+(?= test)' "$log" | tail -1)
  local info="passed ${passed:-0}, skipped ${skipped:-0}, failed ${failed:-0}, $((SECONDS - start)) s"
  if [ $rc -ne 0 ]; then row "$label" FAIL "$info (exit $rc, log $log)"
  elif [ "${skipped:-0}" != 0 ]; then row "$label" FAIL "$info: tests skipped on a GPU machine"
  else row "$label" PASS "$info"; fi
}

run_checks() {
  local stages=" $* "
  [ "$stages" = "  " ] && stages=" tests memcheck racecheck initcheck synccheck bench torch sweep "
  stages=${stages/ sanitize / memcheck racecheck initcheck synccheck }
  want() { [[ "$stages" == *" $1 "* ]]; }
  local s
  for s in $stages; do
    case "$s" in tests|memcheck|racecheck|initcheck|synccheck|bench|torch|sweep) ;; *) die "unknown --run stage '$s' (tests, memcheck, racecheck, initcheck, synccheck, sanitize, bench, torch, sweep)" ;; esac
  done
  [ -d "$dev/bin" ] || die "no $dev/bin: build the package first with 'bash scripts/gpu-check.sh --package' (on the build machine)"
  command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this is not a GPU machine (no NVIDIA driver). --run needs a CUDA GPU."
  nvidia-smi -L 2>/dev/null | grep -q '^GPU' || die "nvidia-smi lists no GPU: --run needs a CUDA GPU."
  local f
  # Unpack what --package compressed (xz, or Python's lzma where xz is not installed).
  while IFS= read -r f; do
    if command -v xz >/dev/null; then
      xz -d -f "$f" || die "cannot unpack $f"
    else
      python3 -c 'import lzma, os, shutil, sys; src = sys.argv[1]
with lzma.open(src) as i, open(src[:-3], "wb") as o: shutil.copyfileobj(i, o)
os.remove(src)' "$f" || die "cannot unpack $f (neither xz nor python3 lzma)"
    fi
  done < <(find "$dev" -name '*.xz')
  chmod +x "$dev"/bin/* 2>/dev/null
  local logs="$dev/logs"
  mkdir -p "$logs"
  local cuda_dirs
  cuda_dirs=$(cuda_lib_dirs | paste -sd:)
  export LD_LIBRARY_PATH="$root/$dev/lib${cuda_dirs:+:$cuda_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CUVIZ_MODEL_PATH="$root/$dev/shared/weights"

  nvidia-smi | tee "$logs/nvidia-smi.txt"
  row "nvidia-smi" PASS "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"

  local bin missing=0
  for bin in "$dev"/bin/*; do
    if ldd "$bin" | grep -q 'not found'; then
      row "libraries of $(basename "$bin")" FAIL "$(ldd "$bin" | grep 'not found' | awk '{print $1}' | paste -sd' ')"
      missing=1
    fi
  done
  [ $missing = 0 ] && row "shared libraries" PASS "all resolved (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"

  local tests=()
  for bin in "$dev"/bin/*_test; do [ -e "$bin" ] && tests+=("$bin"); done
  if want tests; then
    for bin in "${tests[@]}"; do
      run_gtest "test $(basename "$bin")" "$logs/$(basename "$bin").log" "$bin"
    done
  fi

  local sfilter=${SANITIZER_FILTER:--*large*}
  if ! want memcheck && ! want racecheck && ! want initcheck && ! want synccheck; then
    :
  elif command -v compute-sanitizer >/dev/null || [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
    local cs
    cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    local tool
    for tool in memcheck racecheck initcheck synccheck; do
      want $tool || continue
      for bin in "${tests[@]}"; do
        run_gtest "$tool $(basename "$bin")" "$logs/$(basename "$bin").$tool.log" \
          timeout "${SANITIZER_TIMEOUT:-120}" "$cs" --tool "$tool" --error-exitcode 99 --print-limit 20 "$bin" --gtest_filter="$sfilter"
      done
    done
  else
    row "compute-sanitizer" FAIL "not found (expected with the CUDA toolkit)"
  fi

  for bin in "$dev"/bin/*_bench; do
    [ -e "$bin" ] && want bench || continue
    local name start=$SECONDS
    name=$(basename "$bin")
    [ "$name" = sweep_bench ] && continue  # not a Google Benchmark binary: the sweep stage runs it
    if "$bin" --benchmark_filter="${BENCH_FILTER:-.}" --benchmark_out="$logs/$name.json" --benchmark_out_format=json \
         >"$logs/$name.txt" 2>&1; then
      row "bench $name" PASS "$((SECONDS - start)) s; $(grep -m1 'all GoogLeNet conv forwards' "$logs/$name.txt")"
    else
      row "bench $name" FAIL "exit $?, log $logs/$name.txt"
    fi
  done

  local baseline="$dev/shared/bench/torch_sweep_baseline.py" onnx="$dev/shared/weights/bvlc_googlenet/bvlc_googlenet.onnx"
  if want torch && [ -f "$baseline" ] && [ -f "$onnx" ] && python3 -c 'import torch' 2>/dev/null; then
    if python3 "$baseline" --onnx "$onnx" --layer inception_4a/output --size 224 --batch 64 --steps 32 \
         --channels-last >"$logs/torch_baseline.txt" 2>&1; then
      row "PyTorch baseline B1 (S1, 32 steps)" PASS "$(tail -1 "$logs/torch_baseline.txt" | cut -c1-160)"
    else
      row "PyTorch baseline B1" FAIL "log $logs/torch_baseline.txt"
    fi
  fi

  if want sweep; then
    # S1-S4 with sweep_bench beside B1/B2 (when the baseline was packaged and torch is here), and
    # a full S1 sweep; the summary lines of bench/sweep_vs_torch.sh become rows.
    local start=$SECONDS log="$logs/sweep.txt" rc with_torch=0
    [ -f "$baseline" ] && [ -f "$onnx" ] && python3 -c 'import torch, onnx' 2>/dev/null && with_torch=1
    if [ $with_torch = 1 ]; then
      CUVIZ_SHARED_DIR="$root/$dev/shared" SWEEP_CONFIGS="${SWEEP_CONFIGS:-S1 S2 S3 S4}" PYTHON=python3 \
        bash bench/sweep_vs_torch.sh --device cuda --bin "$dev/bin" --rounds "${SWEEP_ROUNDS:-1}" \
        --e2e-rounds "${SWEEP_E2E_ROUNDS:-1}" >"$log" 2>&1
      rc=$?
    else
      rc=0
      : >"$log"
      for s in ${SWEEP_CONFIGS:-S1 S2 S3 S4}; do
        "$dev/bin/sweep_bench" --config "$s" --device cuda --timed 32 >>"$log" 2>&1 || { rc=$?; break; }
      done
    fi
    if [ $rc = 0 ]; then
      row "sweep S1-S4 (sweep_bench)" PASS "$((SECONDS - start)) s, log $log$([ $with_torch = 1 ] || echo \
        '; B1/B2 not run: package with --with-torch-baseline, python3 with torch and onnx')"
      while IFS= read -r f; do row "  sweep" INFO "$f"; done < <(
        if [ $with_torch = 1 ]; then sed -n '/^=== summary/,$p' "$log" | tail -n +2
        else grep -E '^ *(S[1-4] |image-steps/s|channels/s|achieved)' "$log"; fi)
    else
      row "sweep S1-S4 (sweep_bench)" FAIL "exit $rc, log $log"
    fi
  fi

  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    tar -czf "$OUT/gpu-check-logs.tar.gz" -C "$dev" logs
    for f in "$logs"/*_bench.txt "$logs/sweep.txt"; do [ -e "$f" ] && cp "$f" "$OUT/"; done
  fi

  {
    echo
    echo "==== gpu-check summary ($(date -u '+%Y-%m-%d %H:%M UTC')) ===="
    printf '%s\n' "${rows[@]}"
    echo "failures: $failures"
  } | tee "$logs/summary.txt"
  [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$logs/summary.txt" "$OUT/"
  [ $failures = 0 ]
}

case "${1:-}" in
  --package) shift; package "$@" ;;
  --run) shift; run_checks "$@" ;;
  *) echo "usage: bash scripts/gpu-check.sh --package [--with-torch-baseline] [--with-cuda-libs] | --run [tests] [memcheck] [racecheck] [initcheck] [synccheck] [sanitize] [bench] [torch] [sweep]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs every build and test dependency of cuviz from Debian packages. Idempotent: packages
# already present are skipped, so a second run costs one dpkg query.
# The CUDA toolkit (nvcc, cuDNN, cuBLAS, cuFFT) is not a Debian package here; CUDA is optional
# (CUVIZ_CUDA=AUTO builds it when nvcc is found).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-dev                     # SGEMM for the fast CPU conv/linear paths
  libprotobuf-dev protobuf-compiler   # Caffe model files (our own caffe.proto)
  libonnx-dev libonnx-testdata        # ONNX protobuf types and the ONNX node conformance vectors
  libstb-dev                          # image I/O: PNG and JPEG (stb_image / stb_image_write)
  libcli11-dev nlohmann-json3-dev     # command line, JSON sidecars and manifests
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-numpy                       # .npy fixtures in tests
  python3-dev pybind11-dev python3-pytest  # the Python module (python/) and its pytest suite
  chromium                            # the sweep gallery is checked in a headless browser
  libopenmpi-dev openmpi-bin          # `mpirun -np N cuviz sweep` (optional: CUVIZ_MPI=AUTO)
  # clang 17+ with libFuzzer and LLVM's OpenMP, for the fuzz targets (scripts/fuzz.sh; CI fuzzes
  # each briefly). libomp-19-dev replaces Debian's libomp-dev (LLVM 14), which it conflicts with;
  # the gcc builds use gcc's own OpenMP (libgomp).
  clang-19 libclang-rt-19-dev libomp-19-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages present"
fi

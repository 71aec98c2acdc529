#!/usr/bin/env bash
# `pip install .` in a fresh virtual environment (scikit-build-core through the project's CMake,
# pyproject.toml), then the acceptance lines of the Python module (docs/python.md) and its pytest
# suite against the installed package. Needs PyPI (scikit-build-core, pybind11, numpy, pytest)
# and the Debian build dependencies (scripts/install-deps.sh).
#   bash scripts/pip-check.sh [VENV_DIR]     # default: a new temporary directory
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-$(mktemp -d /tmp/cuviz-venv.XXXXXX)}
/usr/bin/python3 -m venv "$venv"
# ccache, when there is one, for the library objects (the build directory is build-pip/).
if command -v ccache >/dev/null; then export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"; fi
"$venv/bin/pip" install -q .
"$venv/bin/pip" install -q pytest
shared=${CUVIZ_SHARED_DIR:-$PWD/../shared}
cd "$venv"  # away from the source tree: the installed package is the one imported
CUVIZ_MODEL_PATH="$shared/weights" "$venv/bin/python" - "$shared" <<'PY'
import sys
import numpy as np
import cuviz
shared = sys.argv[1]
print("cuviz from", cuviz.__file__)
top = cuviz.load("googlenet").classify(f"{shared}/images/coffee.png")
print(top)
assert top[0][0] == "espresso", top
a = cuviz.render(cuviz.load("googlenet", device="cpu"), "inception_4a/output:97", size=64, steps=8, seed=3, quiet=True)
b = cuviz.render(cuviz.load("googlenet", device="cpu"), "inception_4a/output:97", size=64, steps=8, seed=3, quiet=True)
assert a.dtype == np.float32 and a.shape == (64, 64, 3) and np.array_equal(a, b)
print("render:", a.shape, a.dtype)
PY
CUVIZ_SHARED_DIR="$shared" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests"

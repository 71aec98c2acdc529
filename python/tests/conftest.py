"""Shared fixtures of the cuviz Python tests (python/tests, docs/python.md).

The module is imported from PYTHONPATH (scripts/test.sh: <build>/python) or from site-packages
(after `pip install .`). Tests that need the pretrained GoogLeNet skip when the shared weights are
absent, as the C++ tests do. The CLI binary the values are compared against is $CUVIZ_BINARY, else
the `cuviz` beside the build's python/ folder, else (or with CUVIZ_BINARY=-) the same command run
in-process (cuviz.run_cli).
"""
import os
import pathlib
import subprocess
import sys

import pytest

# One thread unless the caller chose: fast on CI's shared cores, and the module and the CLI
# subprocesses then sum in the same order.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("CUVIZ_SHARED_DIR", REPO.parent / "shared"))
WEIGHTS = SHARED / "weights"
IMAGES = SHARED / "images"
if "CUVIZ_MODEL_PATH" not in os.environ and WEIGHTS.is_dir():
    os.environ["CUVIZ_MODEL_PATH"] = str(WEIGHTS)

import cuviz  # noqa: E402  (after the environment above)


def find_binary():
    if os.environ.get("CUVIZ_BINARY"):  # "-": the commands in-process
        return None if os.environ["CUVIZ_BINARY"] == "-" else os.environ["CUVIZ_BINARY"]
    beside = pathlib.Path(cuviz.__file__).resolve().parents[2] / "cuviz"  # <build>/python/cuviz/ -> <build>/cuviz
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


class Cli:
    """`cuviz ARGS...`: the binary in a subprocess when there is one, else run_cli in-process."""

    def __init__(self, binary):
        self.binary = binary

    def run(self, *args, check=True):
        """Returns (exit code, stdout, stderr)."""
        args = [str(a) for a in args]
        if self.binary:
            p = subprocess.run([self.binary] + args, capture_output=True, text=True)
            if check and p.returncode != 0:
                raise AssertionError(f"cuviz {' '.join(args)} failed: {p.stderr}")
            return p.returncode, p.stdout, p.stderr
        r, w = os.pipe()
        saved = os.dup(1)
        sys.stdout.flush()
        os.dup2(w, 1)
        code, err = 0, ""
        try:
            cuviz.run_cli(args)
        except cuviz.UsageError as e:
            code, err = 2, f"cuviz: error: {e}\n"
        except cuviz.Error as e:
            code, err = 1, f"cuviz: error: {e}\n"
        finally:
            os.dup2(saved, 1)
            os.close(w)
            os.close(saved)
        with os.fdopen(r) as f:
            out = f.read()
        if check and code != 0:
            raise AssertionError(f"cuviz {' '.join(args)} failed: {err}")
        return code, out, err


@pytest.fixture(scope="session")
def cli():
    return Cli(find_binary())


@pytest.fixture(scope="session")
def googlenet():
    if not (WEIGHTS / "bvlc_googlenet").is_dir():
        pytest.skip(f"no pretrained GoogLeNet under {WEIGHTS}")
    return cuviz.load("googlenet", device="cpu")


@pytest.fixture(scope="session")
def coffee():
    path = IMAGES / "coffee.png"
    if not path.is_file():
        pytest.skip(f"no sample photo {path}")
    return str(path)

"""The Python module's overhead: cuviz.render (python/_cuviz.cpp) against the `cuviz render`
command on the same settings, alternating, best and median wall time and the median process CPU
time (the work itself, whatever the machine's load). The render loop is the same code; what
differs is the process start and model load of the CLI and the binding's conversions.

    PYTHONPATH=build-cpu/python OMP_NUM_THREADS=1 python3 bench/python_overhead.py build-cpu/cuviz [REPEATS]
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import cuviz

binary = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
settings = dict(size=128, steps=64, seed=0)
objective = "inception_4a/output:97"
flags = [a for k, v in settings.items() for a in (f"--{k}", str(v))]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


model = cuviz.load("googlenet", device="cpu")
cuviz.render(model, objective, quiet=True, **settings)  # warm-up
walls = {"python": [], "cli": []}
cpus = {"python": [], "cli": []}
with tempfile.TemporaryDirectory() as tmp:
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        cuviz.render(model, objective, quiet=True, **settings)
        walls["python"].append(time.perf_counter() - t)
        cpus["python"].append(time.process_time() - c)
        t, c = time.perf_counter(), children_cpu()
        subprocess.run([binary, "render", "googlenet", "--objective", objective, *flags, "--device", "cpu", "-q",
                        "-o", os.path.join(tmp, "r.png")], check=True, stdout=subprocess.DEVNULL)
        walls["cli"].append(time.perf_counter() - t)
        cpus["cli"].append(children_cpu() - c)
threads = os.environ.get("OMP_NUM_THREADS", "default")
print(f"GoogLeNet render {settings}, {objective}, OMP_NUM_THREADS={threads}, {repeats} runs each")
for k in walls:
    print(f"  {k:6s} wall best {min(walls[k]):.3f} s  median {statistics.median(walls[k]):.3f} s  "
          f"CPU median {statistics.median(cpus[k]):.3f} s")

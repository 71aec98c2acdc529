#!/usr/bin/python3
"""scikit-learn's side of bench/nmf_vs_sklearn.sh: writes the activation matrix (GoogLeNet
inception_4e/output on astronaut.png at 448 px: 28x28 = 784 positions x 832 channels, by the
independent PyTorch implementation) to OUT.npy, then times NMF (k = 6, 200 iterations, tol 0, float32)
with solver 'cd' and 'mu' from a random init, and PCA, at 1 and 2 threads (threadpoolctl): best and
median of R runs.
    /usr/bin/python3 bench/sklearn_nmf_bench.py OUT.npy [repeats]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))


def main():
    out = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    from make_factorize_fixtures import activation_matrix

    x = activation_matrix("inception_4e/output", "astronaut.png", 448)
    np.save(out, x)
    import sklearn
    from sklearn.decomposition import NMF, PCA
    from threadpoolctl import threadpool_limits

    print(f"X {x.shape[0]} x {x.shape[1]} float32, scikit-learn {sklearn.__version__}, k 6, 200 iterations")
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            for name, make in (
                ("nmf cd", lambda: NMF(6, solver="cd", init="random", random_state=0, max_iter=200, tol=0)),
                ("nmf mu", lambda: NMF(6, solver="mu", init="random", random_state=0, max_iter=200, tol=0)),
                ("pca", lambda: PCA(6, svd_solver="full")),
            ):
                times, err = [], None
                for _ in range(repeats):
                    m = make()
                    t0 = time.perf_counter()
                    w = m.fit_transform(x)
                    times.append(time.perf_counter() - t0)
                    if err is None and name.startswith("nmf"):
                        err = np.linalg.norm(x - w @ m.components_) / np.linalg.norm(x)
                times.sort()
                extra = f"  relative error {err:.6f}" if err is not None else ""
                print(f"{name:<14} threads {threads}  best {times[0]*1e3:8.1f} ms  median {times[len(times)//2]*1e3:8.1f} ms"
                      f"  ({repeats} runs){extra}")


if __name__ == "__main__":
    main()

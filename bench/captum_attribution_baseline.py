#!/usr/bin/python3
"""Captum's attribution speed on GoogLeNet (tests/fixtures/torch_googlenet.py), CPU, for
docs/performance.md "Attribution": maps per second for Saliency (one gradient) and
IntegratedGradients (50 Gauss-Legendre steps, zero baseline, internal_batch_size 8 like cuviz's
--batch 8), one 224 x 224 photo, target = the top logit.

    /usr/bin/python3 bench/captum_attribution_baseline.py --threads 1 --repeats 5
Prints one line per method: best and median seconds per map, and maps per second (of the best).
"""
import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from torch_googlenet import load_model, preprocess  # noqa: E402
from captum.attr import IntegratedGradients, Saliency  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")


class Logits(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x, outputs=["loss3/classifier"])["loss3/classifier"].reshape(x.shape[0], -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--image", default=os.path.join(SHARED, "images", "astronaut.png"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = Logits(load_model(os.path.join(SHARED, "weights", "bvlc_googlenet", "bvlc_googlenet.onnx"))).eval()
    x = preprocess(a.image, 224)
    with torch.no_grad():
        t = int(model(x)[0].argmax())
    runs = {
        "gradient": lambda: Saliency(model).attribute(x.clone().requires_grad_(True), target=t, abs=False),
        "integrated_gradients_50": lambda: IntegratedGradients(model).attribute(
            x, target=t, n_steps=50, method="gausslegendre", internal_batch_size=8),
    }
    for name, f in runs.items():
        f()  # warm-up
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        best, med = min(times), statistics.median(times)
        print(f"captum {name:26s} threads {a.threads}  best {best:.3f} s  median {med:.3f} s  {1 / best:.3f} maps/s",
              flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch reference for `cuviz style` speed: the same loss on the same GoogLeNet, optimised by
torch.optim.LBFGS in the same mode, timed in iterations per second.

The network is tests/fixtures/torch_googlenet.py (the shared ONNX GoogLeNet as torch modules, run
only up to the deepest layer used). The loss is cuviz style's with its GoogLeNet defaults
(viz/style.h): on the network input x (Caffe BGR x255 minus the mean),
  5 * mean((F_c(x) - P)^2)                              content, inception_3b/output
  + 100 * sum_l w_l mean((G_l(x) - T_l)^2)              style, G = F F^T / (C H W), w = 2,2,200,100,100
  + 1e-3 * 0.5 * sum (neighbour differences of x)^2     tv2
torch.optim.LBFGS(lr=1, history_size=100, line_search_fn=None) is torch7's optim.lbfgs without a
line search, i.e. neural-style's (and cuviz's --line-search fixed) step. Each iteration is one
loss + gradient evaluation plus the two-loop recursion. Start: randn * 0.001 (neural-style).
Prints one JSON line: iterations per second, best and median over repetitions, wall and CPU time.

  /usr/bin/python3 bench/style_torch.py --size 512 --threads 1 --iters 10 --repeats 3
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from torch_googlenet import image_to_input, load_model  # noqa: E402

STYLE = ["conv2/3x3", "inception_3a/output", "inception_4a/output", "inception_4b/output", "inception_4c/output"]
WEIGHTS = [2, 2, 200, 100, 100]
CONTENT = "inception_3b/output"


def photo(path, side):
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    if h >= w:
        size = (max(1, round(w * side / h)), side)
    else:
        size = (side, max(1, round(h * side / w)))
    return image_to_input(np.asarray(img.resize(size, Image.BILINEAR)))


def run(net, x, outputs):
    """net's forward up to the last of `outputs` only (torch_googlenet stops there)."""
    return net(x, outputs=list(outputs))


def gram(f):
    c, h, w = f.shape[1:]
    a = f.reshape(c, h * w)
    return a @ a.t() / (c * h * w)


def main():
    ap = argparse.ArgumentParser()
    root = os.path.join(HERE, "..", "..", "shared")
    ap.add_argument("--onnx", default=os.path.join(root, "weights", "bvlc_googlenet", "bvlc_googlenet.onnx"))
    ap.add_argument("--content", default=os.path.join(root, "images", "chelsea.png"))
    ap.add_argument("--style", default=os.path.join(root, "images", "rocket.jpg"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--iters", type=int, default=10, help="iterations per repetition")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = load_model(a.onnx).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    content = photo(a.content, a.size)
    style = photo(a.style, a.size)
    with torch.no_grad():
        P = run(net, content, [CONTENT])[CONTENT]
        fs = run(net, style, STYLE)
        T = [gram(fs[l]) for l in STYLE]

    def loss_of(x):
        f = run(net, x, STYLE + [CONTENT])
        content_loss = 5 * ((f[CONTENT] - P) ** 2).mean()
        style_loss = 100 * sum(w * ((gram(f[l]) - t) ** 2).mean() for l, w, t in zip(STYLE, WEIGHTS, T))
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        tv = 1e-3 * 0.5 * ((dx ** 2).sum() + (dy ** 2).sum())
        return content_loss + style_loss + tv

    torch.manual_seed(0)
    x = (torch.randn(content.shape) * 0.001).requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=100, tolerance_grad=-1, tolerance_change=-1)

    def closure():
        opt.zero_grad()
        loss = loss_of(x)
        loss.backward()
        return loss

    opt.step(closure)  # warm-up
    opt.step(closure)
    rates, cpu_rates = [], []
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.iters):
            loss = opt.step(closure)
        t1, c1 = time.perf_counter(), time.process_time()
        rates.append(a.iters / (t1 - t0))
        cpu_rates.append(a.iters / (c1 - c0))
    print(json.dumps({"impl": "torch", "threads": a.threads, "size": list(content.shape[2:]), "iters": a.iters,
                      "best_its_per_s": max(rates), "median_its_per_s": statistics.median(rates),
                      "best_its_per_cpu_s": max(cpu_rates), "loss": float(loss), "torch": torch.__version__}))


if __name__ == "__main__":
    main()

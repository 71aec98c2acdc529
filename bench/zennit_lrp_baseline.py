#!/usr/bin/python3
"""zennit baseline for bench/lrp_bench.cpp: LRP maps per second on GoogLeNet (ONNX, through
tests/fixtures/torch_googlenet.py) at 224 px, each composite as tests/fixtures/make_lrp_fixtures.py
runs it (LRN passes, the logit of the top class as output relevance). The composite stays
registered (one `with Gradient(...)` block) and each timed call is one attributor call: forward,
the hooked backward, the relevance. Best and median over --repeats calls after one warm-up, and
the median process CPU time per map (the work itself, whatever the machine's load).

  /usr/bin/python3 bench/zennit_lrp_baseline.py --threads 1 --repeats 5 [--batch 1] [--composite all]
"""
import argparse
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from make_lrp_fixtures import Logits, composites  # noqa: E402
from torch_googlenet import load_model, preprocess  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    shared = os.path.join(HERE, "..", "..", "shared")
    ap.add_argument("--onnx", default=os.path.join(shared, "weights", "bvlc_googlenet", "bvlc_googlenet.onnx"))
    ap.add_argument("--image", default=os.path.join(shared, "images", "astronaut.png"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--composite", default="all")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = Logits(load_model(args.onnx)).eval()
    x = preprocess(args.image, 224).repeat(args.batch, 1, 1, 1)
    with torch.no_grad():
        target = int(model(x[:1])[0].argmax())
    onehot = torch.zeros(args.batch, 1000)
    onehot[:, target] = 1.0
    print(f"# zennit: GoogLeNet 224 px, batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"target {target}, {args.repeats} timed calls")
    for name, make in composites(x).items():
        if args.composite not in ("all", name):
            continue
        with Gradient(model=model, composite=make()) as attributor:
            attributor(x, lambda out: out * onehot)  # warm-up
            t, cpu = [], []
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                attributor(x, lambda out: out * onehot)
                t.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        best, median = min(t), statistics.median(t)
        print(f"{name:26s} best {best:7.3f} s  median {median:7.3f} s  maps/s best {args.batch / best:7.3f}  "
              f"median {args.batch / median:7.3f}  cpu s/map median {statistics.median(cpu) / args.batch:7.3f}",
              flush=True)


if __name__ == "__main__":
    main()

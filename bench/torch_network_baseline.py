#!/usr/bin/env python3
"""PyTorch CPU baseline for bench/network_bench.cpp: the network part of a render step only.

The same truncated ONNX network as ../shared/bench/torch_sweep_baseline.py (its OnnxNet), then
per step: forward of a fixed batch, a seed on the layer's output, autograd.grad to the input
(no weight gradients), wall time and process CPU time (the work itself, whatever the
machine's load). Torch picks 1 thread on this 2-core machine unless --threads says
otherwise. Prints one JSON line with the median and best step time over repetitions.

  /usr/bin/python3 bench/torch_network_baseline.py --size 128 --batch 4 --steps 10 --repeats 5
"""
import argparse, json, os, statistics, sys, time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'shared', 'bench'))
from torch_sweep_baseline import OnnxNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--onnx', default=os.path.join(HERE, '..', '..', 'shared', 'weights', 'bvlc_googlenet',
                                                    'bvlc_googlenet.onnx'))
    ap.add_argument('--layer', default='inception_4a/output')
    ap.add_argument('--size', type=int, default=128); ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--steps', type=int, default=10, help='steps per repetition')
    ap.add_argument('--repeats', type=int, default=5); ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: torch default, 1 here)')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    net = OnnxNet(args.onnx, args.layer).eval()
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1).requires_grad_(True)
    with torch.no_grad():
        seed = torch.rand(net(x).shape, generator=gen) * 2 - 1

    def step():
        act = net(x)
        (dx,) = torch.autograd.grad(act, x, seed)
        return dx

    for _ in range(args.warmup): step()
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps): step()
        times.append((time.perf_counter() - t0) / args.steps)
        cpu.append((time.process_time() - c0) / args.steps)
    print(json.dumps({'baseline': 'pytorch network forward+backward_to_input', 'torch': torch.__version__,
                      'threads': torch.get_num_threads(), 'layer': args.layer, 'size': args.size,
                      'batch': args.batch, 'step_ms_median': round(1e3 * statistics.median(times), 2),
                      'step_ms_best': round(1e3 * min(times), 2),
                      'process_cpu_ms_per_step_median': round(1e3 * statistics.median(cpu), 2),
                      'image_steps_per_s_median': round(args.batch / statistics.median(times), 2),
                      'image_steps_per_s_best': round(args.batch / min(times), 2)}))


if __name__ == '__main__':
    main()

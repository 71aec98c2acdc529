#!/usr/bin/env python3
"""Reference render with the PyTorch baseline's pipeline (../shared/bench/torch_sweep_baseline.py):
Fourier + decorrelated colour, standard transforms as one affine resample (fresh draws every step),
Adam, one channel objective; then the channel's mean activation on the final image WITHOUT
transforms (Caffe preprocessing only), the figure `cuviz render` reports as its final objective.

  /usr/bin/python3 bench/torch_render_reference.py --onnx ../shared/weights/bvlc_googlenet/bvlc_googlenet.onnx \
      --layer inception_4c/output --channel 10 --size 128 --steps 256 [--seeds 3] [--png out.png]
"""
import argparse, json, os, sys, time
import torch, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'bench'))
sys.path.insert(0, '/work/shared/bench')
import torch_sweep_baseline as base


def render(net, args, seed, mean):
    hw = args.size
    gen = torch.Generator().manual_seed(seed)
    spec = (torch.randn(1, 3, hw, hw // 2 + 1, 2, generator=gen) * 0.01).requires_grad_(True)
    scale = base.spectrum_scale(hw, hw)
    opt = torch.optim.Adam([spec], lr=args.lr)
    for _ in range(args.steps):
        theta = base.random_affine(1, hw, gen, 'cpu')
        img = base.to_image(spec, scale, hw, hw)
        canvas = F.pad(img, (12, 12, 12, 12), value=0.5)
        grid = F.affine_grid(theta, (1, 3, hw, hw), align_corners=False)
        x = F.grid_sample(canvas, grid, mode='bilinear', padding_mode='border', align_corners=False)
        loss = -net(x.flip(1) * 255.0 - mean)[0, args.channel].mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    with torch.no_grad():
        img = base.to_image(spec, scale, hw, hw)
        final = float(net(img.flip(1) * 255.0 - mean)[0, args.channel].mean())
    return img.detach(), final


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--onnx', required=True); ap.add_argument('--layer', default='inception_4c/output')
    ap.add_argument('--channel', type=int, default=10); ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--steps', type=int, default=256); ap.add_argument('--lr', type=float, default=0.05)
    ap.add_argument('--seeds', type=int, default=1); ap.add_argument('--png', default='')
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    net = base.OnnxNet(args.onnx, args.layer).eval()
    for p in net.buffers(): p.requires_grad_(False)
    mean = torch.tensor([104.0, 117.0, 123.0]).view(1, 3, 1, 1)
    finals, t0 = [], time.perf_counter()
    for s in range(args.seeds):
        img, final = render(net, args, s, mean)
        finals.append(final)
        if args.png and s == 0:
            import numpy as np
            from PIL import Image
            a = (img[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
            Image.fromarray(a).save(args.png)
    print(json.dumps({'reference': 'pytorch', 'torch': torch.__version__, 'layer': args.layer, 'channel': args.channel,
                      'size': args.size, 'steps': args.steps, 'lr': args.lr, 'final_objective': finals,
                      'mean_final_objective': sum(finals) / len(finals), 'seconds': round(time.perf_counter() - t0, 2)}))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""PyTorch F.conv2d forward GFLOP/s on the conv shapes of bench/conv_bench (batch 1), at 1 and 2 threads:
the reference column of docs/performance.md "--profile: conv rows". Best of 7 x 5 calls."""
import time, torch, torch.nn.functional as F
layers=[("conv1/7x7_s2",3,224,64,7,2,3),("conv2/3x3",64,56,192,3,1,1),("inception_4a/3x3",96,14,208,3,1,1),("inception_4a/1x1",480,14,192,1,1,0)]
for th in (1,2):
    torch.set_num_threads(th)
    for n,c,h,o,k,s,p in layers:
        x=torch.randn(1,c,h,h); w=torch.randn(o,c,k,k); b=torch.randn(o)
        y=F.conv2d(x,w,b,s,p); fl=2*y.numel()*c*k*k
        best=1e9
        for r in range(7):
            t=time.perf_counter(); 
            for _ in range(5): F.conv2d(x,w,b,s,p)
            best=min(best,(time.perf_counter()-t)/5)
        print(f"threads {th} {n:18s} fwd {fl/best/1e9:7.2f} GFLOP/s")

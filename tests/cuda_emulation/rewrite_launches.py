#!/usr/bin/env python3
"""Host emulation (scripts/cuda-emulate.sh): rewrites every `kernel<<<grid, block>>>(args)` of a
.cu file into `emu_launch(grid, block, [&] { kernel(args); })` so that it compiles as C++.
Usage: rewrite_launches.py in.cu out.cpp"""
import sys

src = open(sys.argv[1]).read()
out, i = [], 0
while True:
    j = src.find('<<<', i)
    if j < 0:
        out.append(src[i:])
        break
    k = j
    while k > 0 and (src[k - 1].isalnum() or src[k - 1] in '_:'):
        k -= 1
    e = src.find('>>>', j)
    a = e + 3
    if src[a] != '(':
        sys.exit(f'{sys.argv[1]}: cannot parse the launch near: {src[k:a + 20]!r}')
    depth, b = 0, a
    while True:
        depth += {'(': 1, ')': -1}.get(src[b], 0)
        if depth == 0:
            break
        b += 1
    out.append(src[i:k])
    out.append(f'emu_launch({src[j + 3:e]}, [&] {{ {src[k:j]}{src[a:b + 1]}; }})')
    i = b + 1
open(sys.argv[2], 'w').write(''.join(out))

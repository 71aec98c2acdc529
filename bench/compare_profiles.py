#!/usr/bin/env python3
"""Compare two `cuviz ... --profile N --profile-json FILE` reports (docs/profiling.md).

    bench/compare_profiles.py before.json after.json [--top 30]

Prints the step time of each and, per row (matched by stage and name), the time per step of
each, the ratio after / before (< 1: faster), and the achieved GFLOP/s of each, sorted by the
row's share of the "before" step (rows only in one file come last). Uses only the standard library.
"""
import argparse
import json
import sys


def load(path):
    with open(path) as f:
        j = json.load(f)
    if not str(j.get("schema", "")).startswith("cuviz-profile/"):
        sys.exit(f"compare_profiles: {path} is not a cuviz profile (no schema cuviz-profile/N)")
    return j


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--top", type=int, default=0, help="only the N largest rows (0 = all)")
    a = ap.parse_args()
    b, c = load(a.before), load(a.after)
    for name, j in (("before", b), ("after", c)):
        dev = " ".join(x for x in (j["device"], j.get("device_name", "")) if x)
        print(f"{name}: {j['command']} on the {dev}, batch {j['batch']}, "
              f"{j['height']}x{j['width']}: {j['step_ms']:.3f} ms/step "
              f"(unattributed {j['unattributed_ms']:.3f} ms)")
    print(f"step ratio after/before: {c['step_ms'] / b['step_ms']:.3f}\n")
    key = lambda r: (r["stage"], r["name"])
    rb = {key(r): r for r in b["rows"]}
    rc = {key(r): r for r in c["rows"]}
    keys = sorted(rb, key=lambda k: -rb[k]["share"]) + [k for k in rc if k not in rb]
    if a.top > 0:
        keys = keys[: a.top]
    print(f"{'name':32} {'kind':8} {'share':>6} {'ms before':>10} {'ms after':>10} {'ratio':>7} "
          f"{'GF/s before':>11} {'GF/s after':>10}")
    for k in keys:
        x, y = rb.get(k), rc.get(k)
        ms_b = x["ms"] if x else float("nan")
        ms_c = y["ms"] if y else float("nan")
        ratio = ms_c / ms_b if x and y and ms_b > 0 else float("nan")
        kind = (x or y)["kind"]
        share = 100 * x["share"] if x else float("nan")
        gb = x["gflops"] if x else float("nan")
        gc = y["gflops"] if y else float("nan")
        print(f"{k[1][:32]:32} {kind:8} {share:5.1f}% {ms_b:10.3f} {ms_c:10.3f} {ratio:7.3f} {gb:11.2f} {gc:10.2f}")


if __name__ == "__main__":
    main()

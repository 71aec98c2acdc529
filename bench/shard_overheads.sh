#!/usr/bin/env bash
# The fixed costs of a sharded sweep (docs/sweep.md, "Throughput model"), measured with the
# built binary:
#  1. a shard process that renders nothing: start-up, model load, the plan at --size (what every
#     extra process or Slurm task costs before its first step), R rounds;
#  2. `cuviz gallery merge` of C fake channels (one real 224 px PNG copied C times, listed by S
#     shard manifests with the settings of a real shard), R rounds.
# Prints best and median seconds of each.
#   bench/shard_overheads.sh [--bin build-cpu] [--rounds 5] [--channels 1000] [--shards 8]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build-cpu rounds=5 channels=1000 shards=8
while (($#)); do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --channels) channels=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    *) echo "usage: $0 [--bin DIR] [--rounds R] [--channels C] [--shards S]" >&2; exit 2 ;;
  esac
done
cuviz=$PWD/$bin/cuviz
models=$PWD/../shared/weights
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

stats() {  # best and median of the numbers on stdin
  sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "best %.3f s, median %.3f s (%d rounds)\n", v[1], m, NR}'
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

# 1. An empty shard: one channel in batches of 1 is one batch, which shard 1/2 takes; 0/2 has none.
for r in $(seq "$rounds"); do
  seconds "$cuviz" sweep googlenet --model-dir "$models" --layer inception_4a/output --channels 0 --batch 1 \
    --size 224 --device cpu -q -o "$tmp/empty$r" --shard 0/2
done | { echo -n "empty shard (start-up + model load + plan, 224 px): "; stats; }

# 2. A real shard manifest to copy the settings from, then C fake channels over S shards.
"$cuviz" sweep googlenet --model-dir "$models" --layer inception_4a/output --channels 0 --batch 1 --size 224 \
  --steps 1 --device cpu -q -o "$tmp/real" --shard 0/1 >/dev/null 2>&1
/usr/bin/python3 - "$tmp/real" "$tmp/fake" "$channels" "$shards" <<'EOF'
import json, os, shutil, sys
real, fake, channels, shards = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
m = json.load(open(f"{real}/shards/shard-0-of-1.json"))
png = f"{real}/{m['channels'][0]['file']}"
os.makedirs(f"{fake}/channels"); os.makedirs(f"{fake}/shards")
per = (channels + shards - 1) // shards
for s in range(shards):
    cs = range(s * per, min(channels, (s + 1) * per))
    entries = []
    for c in cs:
        f = f"channels/inception_4a_output_{c}.png"
        shutil.copyfile(png, f"{fake}/{f}")
        entries.append({"channel": c, "file": f, "objective": float(c)})
    out = dict(m, channels=entries, shard={"index": s, "count": shards, "batch": per, "requested": f"0-{channels - 1}"})
    json.dump(out, open(f"{fake}/shards/shard-{s}-of-{shards}.json", "w"))
EOF
for r in $(seq "$rounds"); do seconds "$cuviz" gallery merge "$tmp/fake"; done |
  { echo -n "gallery merge of $channels channels (224 px PNGs) from $shards shards: "; stats; }

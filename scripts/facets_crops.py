#!/usr/bin/env python3
"""Augmented views of the sample photos for the `cuviz facets` acceptance run (docs/visualization.md,
"Intra-class facets"), and the small picture of a facets page for the docs.

  facets_crops.py crops SRC_DIR OUT_DIR     5 views of each photo in SRC_DIR: the photo, its mirror image
                                            and three 75% crops (top left, bottom right, centre), plus one
                                            unreadable file (broken.png) that cuviz must list and skip.
  facets_crops.py montage PAGE_DIR OUT.png  one row per facet of a cuviz facets page: up to 4 members,
                                            the mean image, the inversion, the maximization (Pillow only
                                            lays out the PNGs cuviz wrote).
"""
import json
import os
import sys

from PIL import Image, ImageOps


def crops(src, out):
    os.makedirs(out, exist_ok=True)
    for f in sorted(os.listdir(src)):
        if not f.lower().endswith((".png", ".jpg", ".jpeg")):
            continue
        im = Image.open(os.path.join(src, f)).convert("RGB")
        base = os.path.splitext(f)[0]
        w, h = im.size
        side = int(min(w, h) * 0.75)
        im.save(f"{out}/{base}_0.png")
        ImageOps.mirror(im).save(f"{out}/{base}_flip.png")
        for i, (fx, fy) in enumerate([(0, 0), (1, 1), (0.5, 0.5)]):
            x, y = int((w - side) * fx), int((h - side) * fy)
            im.crop((x, y, x + side, y + side)).save(f"{out}/{base}_crop{i}.png")
    with open(f"{out}/broken.png", "wb") as fh:
        fh.write(b"not a png")


def montage(page, out, cell=72, members=4):
    j = json.load(open(os.path.join(page, "facets.json")))
    facets = j["facets"]
    cols = members + 3
    sheet = Image.new("RGB", (cols * (cell + 4) + 8, len(facets) * (cell + 4) + 4), (17, 17, 17))
    for r, f in enumerate(facets):
        files = [m["thumbnail"] for m in f["members"][:members]]
        files += [None] * (members - len(files))
        files += [f["mean_image"], f["invert"]["png"], f["maximize"]["png"]]
        for c, name in enumerate(files):
            if name is None:
                continue
            im = Image.open(os.path.join(page, name)).convert("RGB").resize((cell, cell), Image.BILINEAR)
            sheet.paste(im, (c * (cell + 4) + (8 if c >= members else 0), r * (cell + 4) + 4))
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("crops", "montage"):
        sys.exit(__doc__)
    (crops if sys.argv[1] == "crops" else montage)(sys.argv[2], sys.argv[3])

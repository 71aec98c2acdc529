# %% [markdown]
# # cuviz from Python
#
# A notebook-style tour (cells are `# %%` comments: open it in Jupyter with jupytext, VS Code or
# Spyder, or run it top to bottom as a script, as CI does):
#
#     PYTHONPATH=build/python python3 examples/notebook.py [OUT_DIR] [--quick]
#
# It loads the pretrained GoogLeNet, classifies a photo, renders what a channel of inception_4a
# wants to see, computes an attribution map of the photo's top class, and saves the pictures in
# OUT_DIR (default out/notebook). --quick renders small and short (CI); without it the pictures
# are the ones in docs/python.md.

# %%
import os
import sys

import numpy as np

import cuviz

args = [a for a in sys.argv[1:] if not a.startswith("--")]
quick = "--quick" in sys.argv
out_dir = args[0] if args else os.path.join("out", "notebook")
os.makedirs(out_dir, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("CUVIZ_SHARED_DIR", os.path.join(here, "..", "..", "shared"))
os.environ.setdefault("CUVIZ_MODEL_PATH", os.path.join(shared, "weights"))
photo = os.path.join(shared, "images", "coffee.png")

# %% [markdown]
# ## Load a model
# By name (searched in $CUVIZ_MODEL_PATH, ./weights, ~/.cache/cuviz) or by path, on the GPU when
# there is one (`device="auto"`).

# %%
model = cuviz.load("googlenet")
info = model.info()
print(f"{info['name']} on {model.device}: {len(info['layers'])} layers, "
      f"{info['params'] / 1e6:.2f} M parameters, {info['macs'] / 1e9:.2f} G MACs per image")
print("inception_4a/output:", dict(model.layers)["inception_4a/output"])

# %% [markdown]
# ## Classify a photo
# A path or an (H, W, 3) array; the photo is centre-cropped and resized as the model was trained.

# %%
top = model.classify(photo, top=3)
for label, p in top:
    print(f"  {p:.4f}  {label}")
assert top[0][0] == "espresso"

# %% [markdown]
# ## Render a channel
# Activation maximization with Lucid's defaults (Fourier parameterization, transformation
# robustness, Adam lr 0.05); the same seed gives the same image as `cuviz render`.

# %%
size, steps = (64, 32) if quick else (128, 256)
channel = cuviz.render(model, "inception_4a/output:97", size=size, steps=steps, seed=0, quiet=quick)
print("render:", channel.shape, channel.dtype, f"[{channel.min():.3f}, {channel.max():.3f}]")
cuviz.write_png(os.path.join(out_dir, "channel_4a_97.png"), channel)

# %% [markdown]
# ## Attribution
# Integrated gradients of the top class (the signed map per input channel, [3, H, W]); shown as
# the magnitude summed over the colour channels, scaled to its 99th percentile, over the photo.

# %%
method = "gradient" if quick else "integrated_gradients"
raw = cuviz.attribute(model, photo, method, quiet=True)
heat = np.abs(raw).sum(axis=0)
heat = np.clip(heat / np.percentile(heat, 99), 0, 1)
pixels = cuviz.read_image(photo).astype(np.float32) / 255
h, w = heat.shape
side = min(pixels.shape[:2])
y0, x0 = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
crop = pixels[y0:y0 + side, x0:x0 + side]
crop = crop[np.arange(h) * side // h][:, np.arange(w) * side // w]  # nearest resize to the map's size
overlay = 0.35 * crop + 0.65 * heat[:, :, None] * np.array([1.0, 0.3, 0.1], np.float32)
cuviz.write_png(os.path.join(out_dir, f"attribution_{method}.png"), overlay)
cuviz.write_png(os.path.join(out_dir, "attribution_side_by_side.png"), np.concatenate([crop, overlay], axis=1))
print("attribution:", method, raw.shape, "->", out_dir)

# %% [markdown]
# ## One picture
# The channel, the photo and its attribution side by side at the render's size (nearest
# neighbour), as in docs/python.md.

# %%
def nearest(image, side):
    rows = np.arange(side) * image.shape[0] // side
    cols = np.arange(side) * image.shape[1] // side
    return image[rows][:, cols]


summary = np.concatenate([nearest(channel, size), nearest(crop, size), nearest(overlay, size)], axis=1)
cuviz.write_png(os.path.join(out_dir, "summary.png"), summary)
print("summary:", summary.shape, "->", os.path.join(out_dir, "summary.png"))

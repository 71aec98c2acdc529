"""cuviz: feature visualization for convolutional networks, from Python (docs/python.md).

The core (``load``, ``Model.info/.layers/.forward/.classify``, ``render``) is the C++ library
bound with pybind11 (``cuviz._cuviz``): NumPy arrays in and out, the result buffers handed over
without a copy, the GIL released while it computes. The other methods (``sweep``, ``dream``,
``invert``, ``style``, ``attribute``, ``groups``, ``classviz``) run the very CLI command in this
process (``run_cli``): their keyword arguments are the command's flags (``relu_override=8`` is
``--relu-override 8``, ``True`` gives a bare flag), so names, defaults and checks are the CLI's
own, and they return the arrays the command wrote.

Errors are raised as ``cuviz.Error`` (``cuviz.UsageError`` for a bad argument) with the message
the CLI prints after ``cuviz: error:``.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ._cuviz import (  # noqa: F401  (re-exported)
    Error,
    Model,
    UsageError,
    _write_png,
    cuda_available,
    get_num_threads,
    has_cuda,
    load,
    read_image,
    render,
    render_defaults,
    run_cli,
    set_num_threads,
)

for _t in (Error, UsageError, Model):
    _t.__module__ = "cuviz"  # tracebacks read cuviz.Error, not cuviz._cuviz.Error

__all__ = [
    "Error", "UsageError", "Model", "load", "render", "render_defaults", "sweep", "dream", "invert",
    "style", "attribute", "groups", "classviz", "run_cli", "read_image", "write_png", "cuda_available", "has_cuda",
    "set_num_threads", "get_num_threads",
]

PathLike = Union[str, "os.PathLike[str]"]


def write_png(path: PathLike, image: Any) -> None:
    """Writes an image as PNG (atomically, as the CLI writes): (H, W, 3) or (H, W) grey, uint8 or
    float in [0, 1] (scaled by 255, rounded, clipped)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    _write_png(os.fspath(path), a)


def _flags(settings: Dict[str, Any]) -> List[str]:
    """Keyword arguments as CLI flags: ``foo_bar=v`` -> ``--foo-bar v``; True -> ``--foo-bar``;
    False or None -> nothing; a list or tuple -> its items comma-separated. A trailing underscore
    is dropped, for flags that are Python keywords (``class_="flamingo"`` -> ``--class flamingo``)."""
    out: List[str] = []
    for key, value in settings.items():
        flag = "--" + key.rstrip("_").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            out += [flag, ",".join(str(v) for v in value)]
        else:
            out += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return out


def _model_args(model: Union[Model, str]) -> List[str]:
    """The MODEL positional and the model options of a CLI command, from a Model (the name, format,
    directories and device it was loaded with) or a name/path."""
    if isinstance(model, str):
        return [model]
    args = [model.model, "--format", model.format, "--device", model.device_request]
    for d in model.model_dirs:
        args += ["--model-dir", d]
    return args


def _run(command: str, model: Union[Model, str], positional: Sequence[str], quiet: bool,
         settings: Dict[str, Any]) -> None:
    args = [command] + _model_args(model) + [os.fspath(p) for p in positional] + _flags(settings)
    if quiet:
        args.append("--quiet")
    run_cli(args)


def _image_result(command: str, model: Union[Model, str], positional: Sequence[str], out: Optional[PathLike],
                  quiet: bool, settings: Dict[str, Any]) -> np.ndarray:
    """Runs a command that writes one PNG (-o) and returns it as float32 (H, W, 3) in [0, 1]; the
    PNG and its .json stay at ``out`` when given (else a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="cuviz-") as tmp:
        png = os.fspath(out) if out is not None else os.path.join(tmp, "out.png")
        _run(command, model, positional, quiet, dict(settings, out=png))
        return read_image(png).astype(np.float32) / np.float32(255)


def sweep(model: Union[Model, str], layer: str, channels: Optional[str] = None,
          out_dir: PathLike = "sweep", *, quiet: bool = False, **settings: Any) -> Dict[str, Any]:
    """``cuviz sweep``: renders the channels of ``layer`` (e.g. ``"0-7"``; default all) into
    ``out_dir`` (channels/*.png, contact_sheet.png, index.html) and returns its manifest.json."""
    _run("sweep", model, [], quiet, dict(settings, layer=layer, channels=channels, out=os.fspath(out_dir)))
    with open(os.path.join(os.fspath(out_dir), "manifest.json")) as f:
        return json.load(f)


def dream(model: Union[Model, str], image: PathLike, *, out: Optional[PathLike] = None, quiet: bool = False,
          **settings: Any) -> np.ndarray:
    """``cuviz dream``: DeepDream on a photo; returns the dreamed image (H, W, 3) float32."""
    return _image_result("dream", model, [image], out, quiet, settings)


def invert(model: Union[Model, str], image: PathLike, *, out: Optional[PathLike] = None, quiet: bool = False,
           **settings: Any) -> np.ndarray:
    """``cuviz invert``: the image whose activations at a layer match the photo's (H, W, 3) float32."""
    return _image_result("invert", model, [image], out, quiet, settings)


def style(model: Union[Model, str], content: PathLike, style: Union[PathLike, Sequence[PathLike]], *,
          out: Optional[PathLike] = None, quiet: bool = False, **settings: Any) -> np.ndarray:
    """``cuviz style``: style transfer of ``style`` (one image or several) onto ``content``."""
    styles = [style] if isinstance(style, (str, os.PathLike)) else list(style)
    settings = dict(settings, content=os.fspath(content), style=[os.fspath(s) for s in styles])
    return _image_result("style", model, [], out, quiet, settings)


def classviz(model: Union[Model, str], *, out: Optional[PathLike] = None, quiet: bool = False,
             **settings: Any) -> np.ndarray:
    """``cuviz classviz``: the image a class's logit likes best (H, W, 3) float32."""
    return _image_result("classviz", model, [], out, quiet, settings)


def attribute(model: Union[Model, str], image: PathLike, method: Union[str, Sequence[str]], *,
              out: Optional[PathLike] = None, quiet: bool = False,
              **settings: Any) -> Union[np.ndarray, Dict[str, np.ndarray]]:
    """``cuviz attribute``: the signed raw attribution map (the command's ``--raw`` .npy) of one
    method, or a dict method -> map for several (``method="all"`` or a list)."""
    methods = method if isinstance(method, str) else ",".join(method)
    with tempfile.TemporaryDirectory(prefix="cuviz-") as tmp:
        png = os.fspath(out) if out is not None else os.path.join(tmp, "out.png")
        raw = os.path.join(tmp, "raw.npy")
        _run("attribute", model, [image], quiet, dict(settings, method=methods, out=png, raw=raw))
        if os.path.exists(raw):
            return np.load(raw)
        with open(os.path.splitext(png)[0] + ".json") as f:
            sidecar = json.load(f)
        return {m["method"]: np.load(m["raw"]) for m in sidecar["methods"]}


def groups(model: Union[Model, str], image: PathLike, out_dir: PathLike = "groups", *, quiet: bool = False,
           **settings: Any) -> Dict[str, np.ndarray]:
    """``cuviz groups``: neuron groups of a layer on a photo, written to ``out_dir``; returns the
    factors {"W": positions x k, "H": k x channels} (the command's ``--raw`` files)."""
    _run("groups", model, [image], quiet, dict(settings, out=os.fspath(out_dir), raw=True))
    d = os.fspath(out_dir)
    return {"W": np.load(os.path.join(d, "W.npy")), "H": np.load(os.path.join(d, "H.npy"))}

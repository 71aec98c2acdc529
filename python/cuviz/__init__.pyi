# Type stubs of the cuviz package (docs/python.md), so that editors complete and type checkers
# check. render()'s keyword defaults are viz/settings.h's RenderSettings; python/tests checks them
# against cuviz.render_defaults(), so they cannot drift. The CLI-run methods take the command's
# flags as keywords (**settings: see `cuviz <command> --help`).
import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

PathLike = Union[str, os.PathLike[str]]
ImageLike = Union[PathLike, npt.ArrayLike]
Float32Array = npt.NDArray[np.float32]

class Error(RuntimeError):
    """A cuviz failure; the message is the CLI's, without "cuviz: error: "."""

class UsageError(Error):
    """A bad argument or options that do not go together (the CLI's exit code 2)."""

class Model:
    """A model loaded by cuviz.load: the network on its device."""

    @property
    def name(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def model_dirs(self) -> List[str]: ...
    @property
    def device(self) -> Literal["cpu", "cuda"]: ...
    @property
    def device_request(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def input_size(self) -> int: ...
    @property
    def layers(self) -> List[Tuple[str, Tuple[int, int, int, int]]]: ...
    def info(self, size: int = 0) -> Dict[str, Any]: ...
    def forward(self, x: npt.ArrayLike, layer: str) -> Float32Array: ...
    def classify(self, image: ImageLike, top: int = 5, labels: str = "") -> List[Tuple[str, float]]: ...

def load(
    model: str,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    format: Literal["auto", "caffe", "onnx", "safetensors"] = "auto",
    model_dirs: Sequence[str] = ...,
    backend: Literal["native", "cudnn"] = "native",
) -> Model: ...
def render(
    model: Model,
    objective: Union[str, Sequence[str]],
    *,
    quiet: bool = False,
    size: int = 224,
    steps: int = 512,
    param: Literal["fourier", "pixel", "input"] = "fourier",
    transforms: Literal["standard", "none"] = "standard",
    lr: float = 0.05,
    seed: int = 0,
    relu_override: int = 16,
    precision: Literal["fp32", "tf32", "bf16"] = "fp32",
    batch: int = 1,
    start: str = "seed",
) -> Float32Array: ...
def render_defaults() -> Dict[str, Any]: ...
def run_cli(args: Sequence[str]) -> None: ...
def read_image(path: str) -> npt.NDArray[np.uint8]: ...
def write_png(path: PathLike, image: npt.ArrayLike) -> None: ...
def cuda_available() -> bool: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

has_cuda: bool

def sweep(
    model: Union[Model, str],
    layer: str,
    channels: Optional[str] = None,
    out_dir: PathLike = "sweep",
    *,
    quiet: bool = False,
    **settings: Any,
) -> Dict[str, Any]: ...
def dream(
    model: Union[Model, str], image: PathLike, *, out: Optional[PathLike] = None, quiet: bool = False, **settings: Any
) -> Float32Array: ...
def invert(
    model: Union[Model, str], image: PathLike, *, out: Optional[PathLike] = None, quiet: bool = False, **settings: Any
) -> Float32Array: ...
def style(
    model: Union[Model, str],
    content: PathLike,
    style: Union[PathLike, Sequence[PathLike]],
    *,
    out: Optional[PathLike] = None,
    quiet: bool = False,
    **settings: Any,
) -> Float32Array: ...
def classviz(
    model: Union[Model, str], *, out: Optional[PathLike] = None, quiet: bool = False, **settings: Any
) -> Float32Array: ...
@overload
def attribute(
    model: Union[Model, str], image: PathLike, method: str, *, out: Optional[PathLike] = None,
    quiet: bool = False, **settings: Any
) -> Union[Float32Array, Dict[str, Float32Array]]: ...
@overload
def attribute(
    model: Union[Model, str], image: PathLike, method: Sequence[str], *, out: Optional[PathLike] = None,
    quiet: bool = False, **settings: Any
) -> Dict[str, Float32Array]: ...
def groups(
    model: Union[Model, str], image: PathLike, out_dir: PathLike = "groups", *, quiet: bool = False, **settings: Any
) -> Dict[str, Float32Array]: ...

"""Type stub for cconv/_api.py (the public functions re-exported by cconv).

_api.py itself is unannotated; this stub gives type checkers its real
signatures.  tests/test_packaging.py checks them against the runtime ones.
"""
from typing import Any, Literal, Sequence, TextIO

import numpy as np
import numpy.typing as npt

from ._core import PackedWeights as PackedWeights
from ._core import pack_weights as pack_weights

_FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_IntOrTuple = int | Sequence[int]
_Padding = _IntOrTuple | Literal["valid", "same"]

def conv1d(
    x: npt.ArrayLike,
    weight: npt.ArrayLike | PackedWeights,
    bias: npt.ArrayLike | None = None,
    *,
    stride: _IntOrTuple = 1,
    padding: _Padding = 0,
    dilation: _IntOrTuple = 1,
    groups: int | None = None,
    activation: Literal["relu"] | None = None,
    residual: npt.ArrayLike | None = None,
    out: np.ndarray | None = None,
    num_threads: int | None = None,
) -> _FloatArray: ...
def conv2d(
    x: npt.ArrayLike,
    weight: npt.ArrayLike | PackedWeights,
    bias: npt.ArrayLike | None = None,
    *,
    stride: _IntOrTuple = 1,
    padding: _Padding = 0,
    dilation: _IntOrTuple = 1,
    groups: int | None = None,
    activation: Literal["relu"] | None = None,
    residual: npt.ArrayLike | None = None,
    out: np.ndarray | None = None,
    num_threads: int | None = None,
) -> _FloatArray: ...
def conv3d(
    x: npt.ArrayLike,
    weight: npt.ArrayLike | PackedWeights,
    bias: npt.ArrayLike | None = None,
    *,
    stride: _IntOrTuple = 1,
    padding: _Padding = 0,
    dilation: _IntOrTuple = 1,
    groups: int | None = None,
    activation: Literal["relu"] | None = None,
    residual: npt.ArrayLike | None = None,
    out: np.ndarray | None = None,
    num_threads: int | None = None,
) -> _FloatArray: ...
def conv1x1_chain(
    x: npt.ArrayLike,
    weights: Sequence[npt.ArrayLike | PackedWeights],
    biases: Sequence[npt.ArrayLike | None] | None = None,
    *,
    activation: Literal["relu"] | None | Sequence[Literal["relu"] | None] = None,
    out: np.ndarray | None = None,
    num_threads: int | None = None,
) -> _FloatArray: ...
def max_pool1d(
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    dilation: _IntOrTuple = 1,
    ceil_mode: bool = False,
    num_threads: int | None = None,
) -> _FloatArray: ...
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    dilation: _IntOrTuple = 1,
    ceil_mode: bool = False,
    num_threads: int | None = None,
) -> _FloatArray: ...
def max_pool3d(
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    dilation: _IntOrTuple = 1,
    ceil_mode: bool = False,
    num_threads: int | None = None,
) -> _FloatArray: ...
def avg_pool1d(
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    num_threads: int | None = None,
) -> _FloatArray: ...
def avg_pool2d(
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    num_threads: int | None = None,
) -> _FloatArray: ...
def avg_pool3d(
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    num_threads: int | None = None,
) -> _FloatArray: ...
def global_avg_pool2d(x: npt.ArrayLike, num_threads: int | None = None) -> _FloatArray: ...
def global_max_pool2d(x: npt.ArrayLike, num_threads: int | None = None) -> _FloatArray: ...
def relu(
    x: npt.ArrayLike, out: np.ndarray | None = None, num_threads: int | None = None
) -> _FloatArray: ...
def config() -> dict[str, Any]: ...
def show_config(file: TextIO | None = None) -> None: ...
def _global(
    kind: Literal["max", "avg"], x: npt.ArrayLike, num_threads: int | None
) -> _FloatArray: ...
def _version() -> str: ...
def _openmp_runtime() -> str | None: ...

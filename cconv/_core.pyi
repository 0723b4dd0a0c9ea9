"""Type stub for the compiled module cconv._core (cconv/_core.pyx).

Signatures match the .pyx exactly (names, defaults, keyword-only markers);
tests/test_packaging.py checks them against the installed module.
"""
from typing import Any, Final, Literal, Sequence

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

_FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_IntOrTuple = int | Sequence[int]
_DTypeLike = npt.DTypeLike

__test__: dict[str, str]
_disable: str
_ISAS: Final[dict[str, int]]
_ACTIVATIONS: Final[dict[str | None, int]]

def isa() -> Literal["avx512", "avx2", "portable"]: ...
def _winograd_applies(
    dtype: _DTypeLike, C: int, K: int, H: int, W: int, ph: int, pw: int, k: int = 3
) -> bool: ...
def cpu_has_avx2() -> bool: ...
def cpu_has_avx512() -> bool: ...
def cpu_zmm_split() -> bool: ...
def openmp_enabled() -> bool: ...
def default_threads() -> int: ...
def fma_peak_gflops(dtype: _DTypeLike = ..., seconds: float = 0.2) -> float: ...

# Validation helpers (private; used by cconv._api).
def _oneshot_winograd(
    dtype: npt.DTypeLike,
    N: int,
    ks: tuple[int, ...],
    osp: tuple[int, ...],
    g: int,
    st: tuple[int, ...],
    dl: tuple[int, ...],
    nthreads: int = 1,
) -> str: ...
def _as_float_array(obj: Any, name: str) -> _FloatArray: ...
def _int_arg(v: Any, name: str, minimum: int) -> int: ...
def _tuple_arg(v: Any, nd: int, name: str, minimum: int) -> tuple[int, ...]: ...
def _threads_arg(num_threads: int | None) -> int: ...
def _check_size(shape: Sequence[int], itemsize: int, name: str) -> None: ...
def _spatial_contiguous(arr: np.ndarray, nspatial: int) -> bool: ...
def empty_aligned(shape: Sequence[int], dtype: _DTypeLike, offset: int = 0) -> np.ndarray: ...
def _self_overlapping(arr: np.ndarray) -> bool: ...
def _check_out(
    out: Any,
    shape: Sequence[int],
    dtype: _DTypeLike,
    nspatial: int,
    inputs: Sequence[tuple[np.ndarray | None, str]],
    name: str = "out",
) -> np.ndarray: ...
def _elem_stride(arr: np.ndarray, axis: int) -> int: ...
def _pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int: ...

@disjoint_base
class PackedWeights:
    """Convolution weights packed once into the kernels' blocked layout."""

    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def groups(self) -> int: ...
    @property
    def isa(self) -> str: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def ndim(self) -> int: ...
    def __init__(
        self,
        weight: npt.ArrayLike,
        groups: int = 1,
        *,
        num_threads: int | None = None,
        _isa: str | None = None,
        _direct_only: bool = False,
        _in_place_1x1: bool = False,
        _wino_raw: bool = False,
    ) -> None: ...
    def _packed_bytes(self) -> bytes: ...
    def __reduce__(self) -> Any: ...

def pack_weights(
    weight: npt.ArrayLike,
    groups: int = 1,
    *,
    num_threads: int | None = None,
    _isa: str | None = None,
) -> PackedWeights: ...
def conv(
    nd: int,
    x: npt.ArrayLike,
    weight: npt.ArrayLike | PackedWeights,
    bias: npt.ArrayLike | None = None,
    stride: _IntOrTuple = 1,
    padding: _IntOrTuple | Literal["valid", "same"] = 0,
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
    activation: Literal["relu"] | None | Sequence[Literal["relu"] | None] = None,
    out: np.ndarray | None = None,
    num_threads: int | None = None,
) -> _FloatArray: ...
def pool(
    nd: int,
    kind: Literal["max", "avg"],
    x: npt.ArrayLike,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple | None = None,
    padding: _IntOrTuple = 0,
    dilation: _IntOrTuple = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    num_threads: int | None = None,
) -> _FloatArray: ...
def relu(
    x: npt.ArrayLike, out: np.ndarray | None = None, num_threads: int | None = None
) -> _FloatArray: ...

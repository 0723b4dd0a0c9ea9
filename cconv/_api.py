"""The public functions of cconv, documented; each is a thin call into the
compiled binding (cconv._core), which validates and runs the C kernels."""
from __future__ import annotations

import os
import sys

from . import _core
from ._core import PackedWeights, pack_weights

_CONV_DOC = """{nd}-D convolution (cross-correlation, as in torch.nn.functional.conv{nd}d).

    Parameters
    ----------
    x : ndarray, float32 or float64
        Input of shape (N, C, {sp}) or unbatched (C, {sp}); any strides,
        read-only and negative-stride views are accepted (copied when needed).
    weight : ndarray or PackedWeights
        (K, C // groups, {ks}) of x's dtype, or the result of
        ``pack_weights(weight, groups)`` to skip packing on every call.
    bias : ndarray, optional
        (K,) of x's dtype, added in the kernel's epilogue.
    stride, dilation : int or tuple of {nd} ints, >= 1
    padding : int, tuple of {nd} ints, 'valid' or 'same'
        Zero padding on both sides.  'same' (stride 1 only) keeps the input
        size, putting the extra padding at the end for even kernels.
    groups : int, optional
        Channel groups (default 1, or the packed weights' groups).
    activation : None or 'relu'
        Fused into the epilogue.
    residual : ndarray, optional
        Of the output's shape, added before the activation:
        ``out = activation(conv(x, w) + bias + residual)``.
    out : ndarray, optional
        Where to write the result: exact output shape and dtype, spatial
        dimensions C-contiguous; batch and channel strides may be anything, so
        a channel slice ``buf[:, c0:c1]`` of a larger buffer works (zero-copy
        concatenation).  It may be ``residual`` itself; it may not overlap x.
    num_threads : int, optional
        Threads for this call; None means OpenMP's default (OMP_NUM_THREADS
        or all cores).  Results are bitwise identical for every value.

    Returns
    -------
    ndarray of shape (N, K, {osp}) (or without N for an unbatched input).
    """


def conv1d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=None,
           activation=None, residual=None, out=None, num_threads=None):
    return _core.conv(1, x, weight, bias, stride, padding, dilation, groups,
                      activation, residual, out, num_threads)


def conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=None,
           activation=None, residual=None, out=None, num_threads=None):
    return _core.conv(2, x, weight, bias, stride, padding, dilation, groups,
                      activation, residual, out, num_threads)


def conv3d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=None,
           activation=None, residual=None, out=None, num_threads=None):
    return _core.conv(3, x, weight, bias, stride, padding, dilation, groups,
                      activation, residual, out, num_threads)


def conv1x1_chain(x, weights, biases=None, *, activation=None, out=None, num_threads=None):
    """A chain of 1x1 convolutions, ``y_i = activation_i(W_i y_(i-1) + b_i)``, in one call.

    The network-in-network "MLP over every pixel" (NIN's cccp layers, any
    run of pointwise convolutions): the kernels run it one pixel tile at a
    time, so the intermediate activations stay in cache instead of making a
    round trip through memory per layer.  The result is bitwise the one of
    calling ``conv2d`` layer by layer.

    Parameters
    ----------
    x : ndarray, float32 or float64, (N, C, H, W) or (C, H, W)
    weights : list of ndarray (K_i, C_i, 1, 1) or PackedWeights (groups=1)
        C_0 = C and C_i = K_(i-1).
    biases : None or list with one (K_i,) array (or None) per layer
    activation : None, 'relu', or a list with one of those per layer
    out : ndarray, optional
        (N, K_last, H, W) as for ``conv2d`` (a channel slice works).
    num_threads : int, optional
        As for ``conv2d``.
    """
    return _core.conv1x1_chain(x, weights, biases, activation, out, num_threads)


conv1d.__doc__ = _CONV_DOC.format(nd=1, sp="L", ks="k", osp="Lo")
conv2d.__doc__ = _CONV_DOC.format(nd=2, sp="H, W", ks="R, S", osp="Ho, Wo")
conv3d.__doc__ = _CONV_DOC.format(nd=3, sp="D, H, W", ks="T, R, S", osp="Do, Ho, Wo")

_MAX_DOC = """{nd}-D max pooling (torch.nn.functional.max_pool{nd}d semantics).

    x is (N, C, *spatial) or (C, *spatial), float32/float64.  stride=None
    means kernel_size; padding (implicit -inf) is at most half the dilated
    kernel; ceil_mode rounds the output size up.  NaN propagates.
    """

_AVG_DOC = """{nd}-D average pooling (torch.nn.functional.avg_pool{nd}d semantics).

    x is (N, C, *spatial) or (C, *spatial), float32/float64.  stride=None
    means kernel_size; zero padding of at most half the kernel;
    count_include_pad divides by the window including padding.
    """


def _max(nd):
    def f(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
          num_threads=None):
        return _core.pool(nd, "max", x, kernel_size, stride, padding, dilation,
                          ceil_mode, True, num_threads)
    f.__name__ = f.__qualname__ = f"max_pool{nd}d"
    f.__doc__ = _MAX_DOC.format(nd=nd)
    return f


def _avg(nd):
    def f(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
          num_threads=None):
        return _core.pool(nd, "avg", x, kernel_size, stride, padding, 1, ceil_mode,
                          count_include_pad, num_threads)
    f.__name__ = f.__qualname__ = f"avg_pool{nd}d"
    f.__doc__ = _AVG_DOC.format(nd=nd)
    return f


max_pool1d, max_pool2d, max_pool3d = _max(1), _max(2), _max(3)
avg_pool1d, avg_pool2d, avg_pool3d = _avg(1), _avg(2), _avg(3)


def _global(kind, x, num_threads):
    xa = _core._as_float_array(x, "x")
    if xa.ndim not in (3, 4):
        raise ValueError(f"x must have 4 dimensions (N, C, H, W) or 3 (C, H, W), "
                         f"got shape {xa.shape}")
    return _core.pool(2, kind, xa, xa.shape[-2:], None, 0, 1, False, True, num_threads)


def global_avg_pool2d(x, num_threads=None):
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1)."""
    return _global("avg", x, num_threads)


def global_max_pool2d(x, num_threads=None):
    """Maximum over H and W: (N, C, H, W) -> (N, C, 1, 1); NaN propagates."""
    return _global("max", x, num_threads)


def relu(x, out=None, num_threads=None):
    """max(x, 0) element-wise; NaN propagates; ``out`` may be ``x`` itself."""
    return _core.relu(x, out, num_threads)


def config() -> dict:
    """What this build and this machine chose, as a dict."""
    return {
        "version": _version(),
        "isa": _core.isa(),
        "cpu_has_avx2_fma": _core.cpu_has_avx2(),
        "cpu_has_avx512": _core.cpu_has_avx512(),
        "cpu_zmm_split": _core.cpu_zmm_split(),
        "disabled_features": os.environ.get("CCONV_DISABLE_CPU_FEATURES", ""),
        "openmp": _core.openmp_enabled(),
        "openmp_runtime": _openmp_runtime(),
        "default_threads": _core.default_threads(),
    }


def _version():
    from ._version import __version__
    return __version__


def _openmp_runtime():
    """The OpenMP library this process loaded for cconv (Linux: from /proc maps)."""
    if not _core.openmp_enabled():
        return None
    try:
        with open("/proc/self/maps") as f:
            names = {line.rsplit("/", 1)[-1].strip() for line in f if "omp" in line}
        libs = sorted(n for n in names if n.startswith(("libgomp", "libomp", "libiomp")))
        return ", ".join(libs) or "unknown"
    except OSError:
        return "unknown"


def show_config(file=None):
    """Print the chosen ISA, OpenMP on/off and runtime, and default threads."""
    c = config()
    file = file or sys.stdout
    print(f"cconv {c['version']}", file=file)
    print(f"  kernels (ISA):      {c['isa']}"
          + (f"  (disabled: {c['disabled_features']})" if c["disabled_features"] else ""),
          file=file)
    print(f"  CPU has AVX2+FMA:   {c['cpu_has_avx2_fma']}", file=file)
    print(f"  CPU has AVX-512F:   {c['cpu_has_avx512']}", file=file)
    if c["cpu_has_avx512"]:
        print(f"  AVX-512 FMA split:  {c['cpu_zmm_split']} (512-bit FMAs as two 256-bit halves)",
              file=file)
    print(f"  OpenMP:             {'on' if c['openmp'] else 'off'}"
          + (f" ({c['openmp_runtime']})" if c["openmp"] else ""), file=file)
    print(f"  default threads:    {c['default_threads']}", file=file)

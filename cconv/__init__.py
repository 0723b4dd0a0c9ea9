"""cconv: fast CPU convolutions for NumPy.

Cache-blocked, SIMD (AVX2/FMA chosen at run time, portable C otherwise),
OpenMP-parallel convolution and pooling kernels behind a small NumPy API
whose arguments mean what they mean in ``torch.nn.functional``.

Convolution here is cross-correlation (the kernel is not flipped), as in
every deep-learning framework.
"""
from . import suite
from ._version import __version__
from ._api import (
    PackedWeights,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv1d,
    conv1x1_chain,
    conv2d,
    conv3d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    pack_weights,
    relu,
    show_config,
)
from . import models, nn  # noqa: E402  (nn builds on the functions above)
from .summary import count_params, macs, summary  # noqa: E402

__all__ = [
    "__version__",
    "PackedWeights",
    "pack_weights",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv1x1_chain",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "relu",
    "show_config",
    "nn",
    "models",
    "summary",
    "macs",
    "count_params",
]

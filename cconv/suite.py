"""The layer shapes cconv is measured and tested on, defined once.

Each entry is a convolution from a real network (GoogLeNet's Inception 3a,
ResNet-50's stages, SqueezeNet's Fire 2, ResNet's 7x7/s2 stem).  The benchmark
(`python -m cconv.bench`) times them; the tests check every one against a
float64 reference.
"""
from __future__ import annotations

from typing import NamedTuple


class ConvShape(NamedTuple):
    name: str
    N: int
    C: int
    H: int
    W: int
    K: int
    kernel: int
    stride: int
    pad: int

    @property
    def out_hw(self) -> tuple[int, int]:
        ho = (self.H + 2 * self.pad - self.kernel) // self.stride + 1
        wo = (self.W + 2 * self.pad - self.kernel) // self.stride + 1
        return ho, wo

    @property
    def macs(self) -> int:
        ho, wo = self.out_hw
        return self.N * self.K * self.C * self.kernel * self.kernel * ho * wo

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.K, self.C, self.kernel, self.kernel)


LAYERS: tuple[ConvShape, ...] = tuple(ConvShape(*row) for row in [
    ("incep3a_1x1_192to64",        1, 192,  28,  28,  64, 1, 1, 0),
    ("incep3a_5x5_192to32_direct", 1, 192,  28,  28,  32, 5, 1, 2),
    ("incep3a_3x3_96to128",        1,  96,  28,  28, 128, 3, 1, 1),
    ("res2_1x1_256to64",           1, 256,  56,  56,  64, 1, 1, 0),
    ("res2_3x3_64to64",            1,  64,  56,  56,  64, 3, 1, 1),
    ("res2_1x1_64to256",           1,  64,  56,  56, 256, 1, 1, 0),
    ("res4_1x1_1024to256",         1, 1024, 14,  14, 256, 1, 1, 0),
    ("res4_3x3_256to256",          1, 256,  14,  14, 256, 3, 1, 1),
    ("res3_3x3_128s2",             1, 128,  56,  56, 128, 3, 2, 1),
    ("fire2_sq_1x1_96to16",        1,  96,  55,  55,  16, 1, 1, 0),
    ("fire2_ex_3x3_16to64",        1,  16,  55,  55,  64, 3, 1, 1),
    ("conv1_7x7s2_3to64",          1,   3, 224, 224,  64, 7, 2, 3),
    ("res2_1x1_256to64_b8",        8, 256,  56,  56,  64, 1, 1, 0),
    ("res2_3x3_64to64_b8",         8,  64,  56,  56,  64, 3, 1, 1),
])

BY_NAME = {s.name: s for s in LAYERS}

"""cconv.blocks - the network blocks the benchmark networks are made of.

``MLPConv`` (Network in Network), ``Inception`` (GoogLeNet v1), ``Bottleneck``
(ResNet-50 v1.5) and ``Fire`` (SqueezeNet), built from :mod:`cconv.nn` layers
with torchvision's child names so PyTorch state dicts load unchanged (see each
class for the differences).  Each block's concatenation / residual add / ReLU
is fused into its convolutions (``out=`` channel slices, ``residual=``,
``activation='relu'``).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import _core
from .nn import (BatchNorm2d, Concat, Conv2d, MaxPool2d, Module, ReLU, Sequential, _epilogue,
                 _rng, conv_bn_act)

__all__ = ["BasicConv2d", "MLPConv", "Inception", "Bottleneck", "Fire"]


class BasicConv2d(Sequential):
    """Conv2d -> [BatchNorm2d] -> ReLU with children ``conv``, ``bn`` (optional), ``relu``.

    Without BN (the GoogLeNet paper) the conv has a bias; with ``batch_norm=True``
    it is torchvision's BasicConv2d (conv without bias, BN eps=0.001).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 batch_norm=False, dtype=np.float32, *, seed=None, rng=None):
        rng = _rng(rng, seed)
        mods = OrderedDict(conv=Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                       bias=not batch_norm, dtype=dtype, rng=rng))
        if batch_norm:
            mods["bn"] = BatchNorm2d(out_channels, eps=0.001, dtype=dtype)
        mods["relu"] = ReLU()
        super().__init__(mods)


class MLPConv(Sequential):
    """NIN "mlpconv": KxK conv then 1x1 "cccp" convs, ReLU after each.

    ``channels`` lists the output channels of the KxK conv and of each 1x1 conv,
    e.g. (192, 160, 96) for NIN's first block.  Children are numbered like an
    ``nn.Sequential`` (0 conv, 1 ReLU, 2 conv, ...).  Equivalent to one MLP with
    ReLUs applied to every KxK patch of the input.
    """

    def __init__(self, in_channels, channels, kernel_size, stride=1, padding=0,
                 dtype=np.float32, *, seed=None, rng=None):
        channels = [int(c) for c in channels]
        if not channels:
            raise ValueError("MLPConv needs at least one output channel count")
        rng = _rng(rng, seed)
        mods = [Conv2d(in_channels, channels[0], kernel_size, stride, padding, dtype=dtype, rng=rng), ReLU()]
        for cin, cout in zip(channels[:-1], channels[1:]):
            mods += [Conv2d(cin, cout, 1, dtype=dtype, rng=rng), ReLU()]
        super().__init__(*mods)


class Inception(Concat):
    """GoogLeNet v1 inception module (Szegedy et al. 2014, Fig. 2b / Table 1).

    Branches (torchvision names): ``branch1`` 1x1; ``branch2`` 1x1 reduce -> 3x3;
    ``branch3`` 1x1 reduce -> **5x5** (torchvision uses a 3x3 here, so its
    ``branch3.1.conv.weight`` has a different shape); ``branch4`` 3x3/s1/p1
    max-pool -> 1x1 projection.  Each conv is a :class:`BasicConv2d` (bias and
    ReLU as in the paper; ``batch_norm=True`` for torchvision's conv+BN form).
    The four branches write into one preallocated output: no concatenation copy.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj,
                 batch_norm=False, dtype=np.float32, *, seed=None, rng=None):
        rng = _rng(rng, seed)

        def bc(cin, cout, k, p=0):
            return BasicConv2d(cin, cout, k, padding=p, batch_norm=batch_norm, dtype=dtype, rng=rng)

        super().__init__(OrderedDict(
            branch1=bc(in_channels, ch1x1, 1),
            branch2=Sequential(bc(in_channels, ch3x3red, 1), bc(ch3x3red, ch3x3, 3, 1)),
            branch3=Sequential(bc(in_channels, ch5x5red, 1), bc(ch5x5red, ch5x5, 5, 2)),
            branch4=Sequential(MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                               bc(in_channels, pool_proj, 1)),
        ))
        self.in_channels = in_channels
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj


class Bottleneck(Module):
    """ResNet-50 bottleneck (v1.5, torchvision): 1x1 reduce -> 3x3 (stride) -> 1x1 restore.

    Children ``conv1 bn1 conv2 bn2 conv3 bn3 relu`` and, when the shape changes
    (stride != 1 or in_channels != planes * expansion), ``downsample`` =
    Sequential(1x1 conv with the stride, BN).  BNs fold into the convs; the
    residual add and final ReLU run inside conv3 (``residual=``).
    """

    def __init__(self, in_channels, planes, stride=1, expansion=4, dtype=np.float32,
                 *, seed=None, rng=None):
        super().__init__()
        rng = _rng(rng, seed)
        out = planes * expansion
        self.in_channels, self.planes, self.stride, self.expansion = in_channels, planes, stride, expansion
        self.out_channels = out
        self.conv1 = Conv2d(in_channels, planes, 1, bias=False, dtype=dtype, rng=rng)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.conv2 = Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False, dtype=dtype, rng=rng)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        self.conv3 = Conv2d(planes, out, 1, bias=False, dtype=dtype, rng=rng)
        self.bn3 = BatchNorm2d(out, dtype=dtype)
        self.relu = ReLU()
        if stride != 1 or in_channels != out:
            self.downsample = Sequential(Conv2d(in_channels, out, 1, stride=stride, bias=False,
                                                dtype=dtype, rng=rng),
                                         BatchNorm2d(out, dtype=dtype))

    def forward(self, x):
        return self._run(x)

    def _run(self, x, out=None, residual=None, relu=False):
        if residual is not None:
            return _epilogue(self._run(x), out, residual, relu)
        f = self._fused
        h = conv_bn_act(self.conv1, self.bn1, x, relu=True, fused=f)
        h = conv_bn_act(self.conv2, self.bn2, h, relu=True, fused=f)
        ds = self._modules.get("downsample")
        r = x if ds is None else ds(x)
        if r.dtype != self.conv3.dtype:
            r = r.astype(self.conv3.dtype)
        if out is None and ds is not None and f:
            out = r    # the projection's output is a temporary: conv3 writes over it in place
        return conv_bn_act(self.conv3, self.bn3, h, relu=True, residual=r, out=out, fused=f)

    def output_shape(self, in_shape):
        s = self.conv3.output_shape(self.conv2.output_shape(self.conv1.output_shape(in_shape)))
        return s

    def _trace(self, in_shape, prefix, rows):
        p = f"{prefix}." if prefix else ""
        s = tuple(in_shape)
        for name in ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3"):
            s = getattr(self, name)._trace(s, p + name, rows)
        ds = self._modules.get("downsample")
        if ds is not None:
            ds._trace(in_shape, p + "downsample", rows)
        return s

    def extra_repr(self):
        return f"{self.in_channels}, {self.planes}, stride={self.stride}, expansion={self.expansion}"


class Fire(Module):
    """SqueezeNet Fire module: 1x1 squeeze + ReLU -> [1x1 expand, 3x3/p1 expand] + ReLU, concatenated.

    torchvision children: ``squeeze squeeze_activation expand1x1
    expand1x1_activation expand3x3 expand3x3_activation``.  Both expands write
    into their channel slice of one preallocated output with a fused ReLU.
    """

    def __init__(self, in_channels, squeeze, expand1x1, expand3x3, dtype=np.float32,
                 *, seed=None, rng=None):
        super().__init__()
        rng = _rng(rng, seed)
        self.in_channels = in_channels
        self.out_channels = expand1x1 + expand3x3
        self.dtype = np.dtype(dtype)
        self.squeeze = Conv2d(in_channels, squeeze, 1, dtype=dtype, rng=rng)
        self.squeeze_activation = ReLU()
        self.expand1x1 = Conv2d(squeeze, expand1x1, 1, dtype=dtype, rng=rng)
        self.expand1x1_activation = ReLU()
        self.expand3x3 = Conv2d(squeeze, expand3x3, 3, padding=1, dtype=dtype, rng=rng)
        self.expand3x3_activation = ReLU()

    def forward(self, x):
        return self._run(x)

    def _run(self, x, out=None, residual=None, relu=False):
        if residual is not None:
            return _epilogue(self._run(x), out, residual, relu)
        f = self._fused
        s = conv_bn_act(self.squeeze, None, x, relu=True, fused=f)
        shape = self.output_shape(np.shape(x))
        if out is None:
            out = _core.empty_aligned(shape, self.dtype)
        elif out.shape != shape:
            raise ValueError(f"Fire: out has shape {out.shape}, expected {shape}")
        e1 = self.expand1x1.out_channels
        conv_bn_act(self.expand1x1, None, s, relu=True, out=out[:, :e1], fused=f)
        conv_bn_act(self.expand3x3, None, s, relu=True, out=out[:, e1:], fused=f)
        return out

    def output_shape(self, in_shape):
        s = self.squeeze.output_shape(in_shape)
        a = self.expand1x1.output_shape(s)
        return (a[0], self.out_channels, a[2], a[3])

    def _trace(self, in_shape, prefix, rows):
        p = f"{prefix}." if prefix else ""
        s = self.squeeze._trace(in_shape, p + "squeeze", rows)
        self.expand1x1._trace(s, p + "expand1x1", rows)
        self.expand3x3._trace(s, p + "expand3x3", rows)
        return self.output_shape(in_shape)

    def extra_repr(self):
        return (f"{self.in_channels}, squeeze={self.squeeze.out_channels}, "
                f"expand1x1={self.expand1x1.out_channels}, expand3x3={self.expand3x3.out_channels}")

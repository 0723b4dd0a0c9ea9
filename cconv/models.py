"""cconv.models - whole networks for inference, with torchvision's parameter names.

``resnet50()``, ``squeezenet1_0()``, ``squeezenet1_1()`` have exactly
torchvision's module names and parameter shapes, so a torchvision state dict
saved with ``np.savez(path, **{k: v.numpy() for k, v in m.state_dict().items()})``
loads with ``resnet50().load_state_dict(np.load(path))``.

``googlenet()`` follows the paper (Szegedy et al. 2014, Table 1): real 5x5
convolutions in the inception "5x5" branches, convolutions with bias and no
BatchNorm, all max-pools 3x3/2 (ceil mode), no auxiliary classifiers, no LRN.
Its names follow torchvision's where the layers correspond (``conv1.conv``,
``inception3a.branch3.1.conv`` ...).  torchvision's GoogLeNet differs: its
"5x5" branch is a 3x3, it uses BasicConv2d with BN (pass ``batch_norm=True``
for that form; the 5x5 weights still differ in shape), its ``maxpool4`` is
2x2/2, and its dropout is 0.2 (the paper's 0.4; identity at inference anyway).
Cost at 224x224: 6,998,552 parameters, 1,582,671,872 MACs (the paper quotes
"about 1.5 billion multiply-adds").

``nin_cifar10()`` is Network in Network for CIFAR-10 (Lin et al. 2013).

Every model takes any batch size; ``seed`` makes the He-initialised weights
reproducible and ``dtype`` selects float32 or float64.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .blocks import BasicConv2d, Bottleneck, Fire, Inception, MLPConv
from .nn import (AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear,
                 MaxPool2d, ReLU, Sequential)

__all__ = ["nin_cifar10", "googlenet", "resnet50", "squeezenet1_0", "squeezenet1_1",
           "NIN", "GoogLeNet", "ResNet", "SqueezeNet"]


class NIN(Sequential):
    """Network in Network (a named Sequential: ``features``, ``flatten``)."""


class GoogLeNet(Sequential):
    """GoogLeNet v1 (a named Sequential: ``conv1`` ... ``inception5b``, ``avgpool``, ``fc``)."""


class ResNet(Sequential):
    """ResNet (a named Sequential: ``conv1 bn1 relu maxpool layer1..layer4 avgpool fc``)."""


class SqueezeNet(Sequential):
    """SqueezeNet (a named Sequential: ``features``, ``classifier``, ``flatten``)."""


def nin_cifar10(num_classes=10, dtype=np.float32, seed=0):
    """NIN for 32x32 CIFAR-10: three mlpconv blocks, pooling, global average pooling.

    ``features.0`` mlpconv 5x5 (192, 160, 96), max-pool 3x3/2, dropout,
    ``features.3`` mlpconv 5x5 (192, 192, 192), avg-pool 3x3/2, dropout,
    ``features.6`` mlpconv 3x3 (192, 192, num_classes), global average pool.
    Pools use ceil mode (Caffe's rounding: 32 -> 16 -> 8).
    """
    rng = np.random.default_rng(seed)
    kw = dict(dtype=dtype, rng=rng)
    features = Sequential(
        MLPConv(3, (192, 160, 96), 5, padding=2, **kw),
        MaxPool2d(3, 2, ceil_mode=True),
        Dropout(0.5),
        MLPConv(96, (192, 192, 192), 5, padding=2, **kw),
        AvgPool2d(3, 2, ceil_mode=True),
        Dropout(0.5),
        MLPConv(192, (192, 192, num_classes), 3, padding=1, **kw),
        GlobalAvgPool2d(),
    )
    return NIN(OrderedDict(features=features, flatten=Flatten()))


# GoogLeNet Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
GOOGLENET_INCEPTIONS = OrderedDict([
    ("inception3a", (192, 64, 96, 128, 16, 32, 32)),
    ("inception3b", (256, 128, 128, 192, 32, 96, 64)),
    ("inception4a", (480, 192, 96, 208, 16, 48, 64)),
    ("inception4b", (512, 160, 112, 224, 24, 64, 64)),
    ("inception4c", (512, 128, 128, 256, 24, 64, 64)),
    ("inception4d", (512, 112, 144, 288, 32, 64, 64)),
    ("inception4e", (528, 256, 160, 320, 32, 128, 128)),
    ("inception5a", (832, 256, 160, 320, 32, 128, 128)),
    ("inception5b", (832, 384, 192, 384, 48, 128, 128)),
])


def googlenet(num_classes=1000, batch_norm=False, dtype=np.float32, seed=0):
    """GoogLeNet v1 as in the paper's Table 1 (see the module docstring for the differences
    from torchvision).  224x224 input -> 7x7x1024 before the global average pool."""
    rng = np.random.default_rng(seed)
    kw = dict(batch_norm=batch_norm, dtype=dtype, rng=rng)
    m = OrderedDict()
    m["conv1"] = BasicConv2d(3, 64, 7, stride=2, padding=3, **kw)
    m["maxpool1"] = MaxPool2d(3, 2, ceil_mode=True)
    m["conv2"] = BasicConv2d(64, 64, 1, **kw)
    m["conv3"] = BasicConv2d(64, 192, 3, padding=1, **kw)
    m["maxpool2"] = MaxPool2d(3, 2, ceil_mode=True)
    for name, cfg in GOOGLENET_INCEPTIONS.items():
        m[name] = Inception(*cfg, **kw)
        if name == "inception3b":
            m["maxpool3"] = MaxPool2d(3, 2, ceil_mode=True)
        elif name == "inception4e":
            m["maxpool4"] = MaxPool2d(3, 2, ceil_mode=True)
    m["avgpool"] = GlobalAvgPool2d()
    m["flatten"] = Flatten()
    m["dropout"] = Dropout(0.4)
    m["fc"] = Linear(1024, num_classes, dtype=dtype, rng=rng)
    return GoogLeNet(m)


def _resnet_layer(in_channels, planes, blocks, stride, dtype, rng):
    mods = [Bottleneck(in_channels, planes, stride, dtype=dtype, rng=rng)]
    mods += [Bottleneck(planes * 4, planes, 1, dtype=dtype, rng=rng) for _ in range(blocks - 1)]
    return Sequential(*mods)


def resnet50(num_classes=1000, dtype=np.float32, seed=0):
    """ResNet-50 v1.5 exactly as torchvision's ``resnet50`` (stride in the 3x3 of each bottleneck)."""
    rng = np.random.default_rng(seed)
    m = OrderedDict()
    m["conv1"] = Conv2d(3, 64, 7, stride=2, padding=3, bias=False, dtype=dtype, rng=rng)
    m["bn1"] = BatchNorm2d(64, dtype=dtype)
    m["relu"] = ReLU()
    m["maxpool"] = MaxPool2d(3, 2, padding=1)
    cin = 64
    for i, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
        m[f"layer{i + 1}"] = _resnet_layer(cin, planes, blocks, stride, dtype, rng)
        cin = planes * 4
    m["avgpool"] = GlobalAvgPool2d()
    m["flatten"] = Flatten()
    m["fc"] = Linear(2048, num_classes, dtype=dtype, rng=rng)
    return ResNet(m)


def _squeezenet(version, num_classes, dtype, seed):
    rng = np.random.default_rng(seed)
    kw = dict(dtype=dtype, rng=rng)
    pool = lambda: MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    if version == "1_0":
        feats = [Conv2d(3, 96, 7, stride=2, **kw), ReLU(), pool(),
                 Fire(96, 16, 64, 64, **kw), Fire(128, 16, 64, 64, **kw), Fire(128, 32, 128, 128, **kw),
                 pool(),
                 Fire(256, 32, 128, 128, **kw), Fire(256, 48, 192, 192, **kw),
                 Fire(384, 48, 192, 192, **kw), Fire(384, 64, 256, 256, **kw),
                 pool(),
                 Fire(512, 64, 256, 256, **kw)]
    else:
        feats = [Conv2d(3, 64, 3, stride=2, **kw), ReLU(), pool(),
                 Fire(64, 16, 64, 64, **kw), Fire(128, 16, 64, 64, **kw),
                 pool(),
                 Fire(128, 32, 128, 128, **kw), Fire(256, 32, 128, 128, **kw),
                 pool(),
                 Fire(256, 48, 192, 192, **kw), Fire(384, 48, 192, 192, **kw),
                 Fire(384, 64, 256, 256, **kw), Fire(512, 64, 256, 256, **kw)]
    classifier = Sequential(Dropout(0.5), Conv2d(512, num_classes, 1, **kw), ReLU(), GlobalAvgPool2d())
    return SqueezeNet(OrderedDict(features=Sequential(*feats), classifier=classifier, flatten=Flatten()))


def squeezenet1_0(num_classes=1000, dtype=np.float32, seed=0):
    """SqueezeNet 1.0 exactly as torchvision's ``squeezenet1_0`` (1,248,424 parameters)."""
    return _squeezenet("1_0", num_classes, dtype, seed)


def squeezenet1_1(num_classes=1000, dtype=np.float32, seed=0):
    """SqueezeNet 1.1 exactly as torchvision's ``squeezenet1_1`` (1,235,496 parameters)."""
    return _squeezenet("1_1", num_classes, dtype, seed)

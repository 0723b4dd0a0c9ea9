"""Float64 NumPy references for cconv.nn layers, blocks and models (never cconv).

Each function takes a plain dict of arrays keyed like a torchvision state dict
(the names are part of what is tested) and recomputes the forward pass with
the float64 helpers of tests/reference.py (sliding-window einsum convolution,
NumPy pooling), written independently of cconv.nn's structure.
"""
from __future__ import annotations

import numpy as np

from reference import conv_ref_fast, pool_ref


def conv(x, sd, prefix, stride=1, padding=0):
    b = sd.get(prefix + ".bias")
    return conv_ref_fast(np.asarray(x, np.float64), sd[prefix + ".weight"], b, stride, padding)[0]


def bn(x, sd, prefix, eps=1e-5):
    g = lambda k: np.asarray(sd[f"{prefix}.{k}"], np.float64)[None, :, None, None]  # noqa: E731
    return (x - g("running_mean")) / np.sqrt(g("running_var") + eps) * g("weight") + g("bias")


def relu(x):
    return np.maximum(x, 0)


def maxpool(x, k, s, p=0, ceil=False):
    return pool_ref(np.asarray(x, np.float64), "max", (k, k), (s, s), (p, p), ceil_mode=ceil)


def avgpool(x, k, s, p=0, ceil=False):
    return pool_ref(np.asarray(x, np.float64), "avg", (k, k), (s, s), (p, p), ceil_mode=ceil)


def gap(x):
    return x.mean(axis=(2, 3))


def linear(x, sd, prefix):
    return x @ np.asarray(sd[prefix + ".weight"], np.float64).T + sd[prefix + ".bias"]


# ----------------------------------------------------------------------------- blocks

def mlpconv(x, sd, prefix, n_layers, padding):
    """prefix.0 KxK conv, prefix.2, prefix.4 ... 1x1 convs, ReLU after each."""
    x = relu(conv(x, sd, f"{prefix}.0", padding=padding))
    for i in range(1, n_layers):
        x = relu(conv(x, sd, f"{prefix}.{2 * i}"))
    return x


def basic_conv(x, sd, prefix, padding=0, stride=1):
    return relu(conv(x, sd, prefix + ".conv", stride, padding))


def inception(x, sd, p):
    b1 = basic_conv(x, sd, f"{p}.branch1")
    b2 = basic_conv(basic_conv(x, sd, f"{p}.branch2.0"), sd, f"{p}.branch2.1", padding=1)
    b3 = basic_conv(basic_conv(x, sd, f"{p}.branch3.0"), sd, f"{p}.branch3.1", padding=2)
    b4 = basic_conv(maxpool(x, 3, 1, 1, ceil=True), sd, f"{p}.branch4.1")
    return np.concatenate([b1, b2, b3, b4], axis=1)


def bottleneck(x, sd, p, stride):
    h = relu(bn(conv(x, sd, f"{p}.conv1"), sd, f"{p}.bn1"))
    h = relu(bn(conv(h, sd, f"{p}.conv2", stride, 1), sd, f"{p}.bn2"))
    h = bn(conv(h, sd, f"{p}.conv3"), sd, f"{p}.bn3")
    if f"{p}.downsample.0.weight" in sd:
        x = bn(conv(x, sd, f"{p}.downsample.0", stride), sd, f"{p}.downsample.1")
    return relu(h + x)


def fire(x, sd, p):
    s = relu(conv(x, sd, f"{p}.squeeze"))
    return np.concatenate([relu(conv(s, sd, f"{p}.expand1x1")),
                           relu(conv(s, sd, f"{p}.expand3x3", padding=1))], axis=1)


# ----------------------------------------------------------------------------- models

def nin_cifar10(x, sd):
    x = mlpconv(x, sd, "features.0", 3, 2)
    x = maxpool(x, 3, 2, ceil=True)
    x = mlpconv(x, sd, "features.3", 3, 2)
    x = avgpool(x, 3, 2, ceil=True)
    x = mlpconv(x, sd, "features.6", 3, 1)
    return gap(x)


def googlenet(x, sd):
    x = basic_conv(x, sd, "conv1", padding=3, stride=2)
    x = maxpool(x, 3, 2, ceil=True)
    x = basic_conv(x, sd, "conv2")
    x = basic_conv(x, sd, "conv3", padding=1)
    x = maxpool(x, 3, 2, ceil=True)
    for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
        x = inception(x, sd, "inception" + name)
        if name in ("3b", "4e"):
            x = maxpool(x, 3, 2, ceil=True)
    return linear(gap(x), sd, "fc")


def resnet50(x, sd):
    x = relu(bn(conv(x, sd, "conv1", 2, 3), sd, "bn1"))
    x = maxpool(x, 3, 2, 1)
    for layer, blocks in zip(range(1, 5), (3, 4, 6, 3)):
        for i in range(blocks):
            x = bottleneck(x, sd, f"layer{layer}.{i}", 2 if (i == 0 and layer > 1) else 1)
    return linear(gap(x), sd, "fc")


def squeezenet(x, sd, version):
    if version == "1_0":
        x = relu(conv(x, sd, "features.0", 2))
        layout = ["pool", 3, 4, 5, "pool", 7, 8, 9, 10, "pool", 12]
    else:
        x = relu(conv(x, sd, "features.0", 2))
        layout = ["pool", 3, 4, "pool", 6, 7, "pool", 9, 10, 11, 12]
    for item in layout:
        x = maxpool(x, 3, 2, ceil=True) if item == "pool" else fire(x, sd, f"features.{item}")
    return gap(relu(conv(x, sd, "classifier.1")))

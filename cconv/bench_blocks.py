"""cconv.bench_blocks - benchmark cases for whole blocks and whole networks.

``block_cases()`` and ``net_cases()`` return :class:`Case` objects consumed by
``python -m cconv.bench --suite blocks|nets``.  Each case has

* ``name``, ``macs`` (int, from :mod:`cconv.summary`), ``input_shape``;
* ``make_cconv(num_threads=None)`` -> zero-argument callable running the cconv block/model
  (BN folded, weights pre-packed) on a fixed input;
* ``make_torch(num_threads)`` -> zero-argument callable running the same
  architecture in ``torch.nn`` with the same weights (eval, no_grad), or None
  when torch is not installed;
* ``check()`` -> max |cconv - reference| / max |reference| of the outputs,
  raising AssertionError above 1e-4.  The reference is the torch model when
  torch is installed, else the same cconv model in float64.

Weights are random (seeded) with non-trivial BN statistics so BN folding is
exercised.  The torch modules are defined here with torchvision's module names
(torchvision itself is not needed) so the cconv state dict loads into them.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

from . import models as _models
from .blocks import Bottleneck, Fire, Inception, MLPConv
from .nn import BatchNorm2d, Module
from .summary import macs as _macs

__all__ = ["Case", "block_cases", "net_cases", "randomize", "torch_module", "TOL"]

TOL = 1e-4


def randomize(model: Module, seed: int = 0) -> Module:
    """Give every BatchNorm random (but well-conditioned) statistics and every bias random values.

    He-initialised weights are kept; BN gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1),
    running_mean ~ N(0, 0.1), running_var ~ U(0.5, 1.5); conv/linear biases ~ N(0, 0.1).
    """
    rng = np.random.default_rng(seed)
    for _, m in model.named_modules():
        if isinstance(m, BatchNorm2d):
            n = m.num_features
            m.weight = rng.uniform(0.5, 1.5, n)
            m.bias = rng.normal(0, 0.1, n)
            m.running_mean = rng.normal(0, 0.1, n)
            m.running_var = rng.uniform(0.5, 1.5, n)
        elif m._params.get("bias") is not None:
            m.bias = rng.normal(0, 0.1, m.bias.shape)
    return model


# ----------------------------------------------------------------------------- torch references

_TORCH_DEFS = None


def _torch_defs():
    """Build (once) torch.nn classes with torchvision's module names; None without torch."""
    global _TORCH_DEFS
    if _TORCH_DEFS is not None:
        return _TORCH_DEFS
    try:
        import torch
        from torch import nn as tnn
    except ImportError:
        return None

    class TBasicConv2d(tnn.Module):
        def __init__(self, cin, cout, k, stride=1, padding=0, batch_norm=False):
            super().__init__()
            self.conv = tnn.Conv2d(cin, cout, k, stride, padding, bias=not batch_norm)
            self.bn = tnn.BatchNorm2d(cout, eps=0.001) if batch_norm else None
            self.relu = tnn.ReLU()

        def forward(self, x):
            x = self.conv(x)
            if self.bn is not None:
                x = self.bn(x)
            return self.relu(x)

    class TInception(tnn.Module):
        def __init__(self, cin, c1, c3r, c3, c5r, c5, pp, batch_norm=False):
            super().__init__()
            bc = lambda a, b, k, p=0: TBasicConv2d(a, b, k, padding=p, batch_norm=batch_norm)  # noqa
            self.branch1 = bc(cin, c1, 1)
            self.branch2 = tnn.Sequential(bc(cin, c3r, 1), bc(c3r, c3, 3, 1))
            self.branch3 = tnn.Sequential(bc(cin, c5r, 1), bc(c5r, c5, 5, 2))
            self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1, ceil_mode=True), bc(cin, pp, 1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)

    class TBottleneck(tnn.Module):
        def __init__(self, cin, planes, stride=1, expansion=4):
            super().__init__()
            out = planes * expansion
            self.conv1 = tnn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.conv3 = tnn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = tnn.BatchNorm2d(out)
            self.relu = tnn.ReLU()
            self.downsample = None
            if stride != 1 or cin != out:
                self.downsample = tnn.Sequential(tnn.Conv2d(cin, out, 1, stride, bias=False),
                                                 tnn.BatchNorm2d(out))

        def forward(self, x):
            h = self.relu(self.bn1(self.conv1(x)))
            h = self.relu(self.bn2(self.conv2(h)))
            h = self.bn3(self.conv3(h))
            r = x if self.downsample is None else self.downsample(x)
            return self.relu(h + r)

    class TFire(tnn.Module):
        def __init__(self, cin, sq, e1, e3):
            super().__init__()
            self.squeeze = tnn.Conv2d(cin, sq, 1)
            self.squeeze_activation = tnn.ReLU()
            self.expand1x1 = tnn.Conv2d(sq, e1, 1)
            self.expand1x1_activation = tnn.ReLU()
            self.expand3x3 = tnn.Conv2d(sq, e3, 3, padding=1)
            self.expand3x3_activation = tnn.ReLU()

        def forward(self, x):
            x = self.squeeze_activation(self.squeeze(x))
            return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                              self.expand3x3_activation(self.expand3x3(x))], 1)

    def mlpconv(cin, chans, k, stride=1, padding=0):
        mods = [tnn.Conv2d(cin, chans[0], k, stride, padding), tnn.ReLU()]
        for a, b in zip(chans[:-1], chans[1:]):
            mods += [tnn.Conv2d(a, b, 1), tnn.ReLU()]
        return tnn.Sequential(*mods)

    def nin_cifar10(num_classes=10):
        features = tnn.Sequential(
            mlpconv(3, (192, 160, 96), 5, padding=2), tnn.MaxPool2d(3, 2, ceil_mode=True), tnn.Dropout(0.5),
            mlpconv(96, (192, 192, 192), 5, padding=2), tnn.AvgPool2d(3, 2, ceil_mode=True), tnn.Dropout(0.5),
            mlpconv(192, (192, 192, num_classes), 3, padding=1), tnn.AdaptiveAvgPool2d(1))
        return tnn.Sequential(OrderedDict(features=features, flatten=tnn.Flatten()))

    def googlenet(num_classes=1000, batch_norm=False):
        m = OrderedDict()
        m["conv1"] = TBasicConv2d(3, 64, 7, 2, 3, batch_norm)
        m["maxpool1"] = tnn.MaxPool2d(3, 2, ceil_mode=True)
        m["conv2"] = TBasicConv2d(64, 64, 1, batch_norm=batch_norm)
        m["conv3"] = TBasicConv2d(64, 192, 3, padding=1, batch_norm=batch_norm)
        m["maxpool2"] = tnn.MaxPool2d(3, 2, ceil_mode=True)
        for name, cfg in _models.GOOGLENET_INCEPTIONS.items():
            m[name] = TInception(*cfg, batch_norm=batch_norm)
            if name in ("inception3b", "inception4e"):
                m["maxpool3" if name == "inception3b" else "maxpool4"] = tnn.MaxPool2d(3, 2, ceil_mode=True)
        m["avgpool"] = tnn.AdaptiveAvgPool2d(1)
        m["flatten"] = tnn.Flatten()
        m["dropout"] = tnn.Dropout(0.4)
        m["fc"] = tnn.Linear(1024, num_classes)
        return tnn.Sequential(m)

    def resnet50(num_classes=1000):
        m = OrderedDict(conv1=tnn.Conv2d(3, 64, 7, 2, 3, bias=False), bn1=tnn.BatchNorm2d(64),
                        relu=tnn.ReLU(), maxpool=tnn.MaxPool2d(3, 2, 1))
        cin = 64
        for i, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
            mods = [TBottleneck(cin, planes, stride)] + [TBottleneck(planes * 4, planes) for _ in range(blocks - 1)]
            m[f"layer{i + 1}"] = tnn.Sequential(*mods)
            cin = planes * 4
        m["avgpool"] = tnn.AdaptiveAvgPool2d(1)
        m["flatten"] = tnn.Flatten()
        m["fc"] = tnn.Linear(2048, num_classes)
        return tnn.Sequential(m)

    def squeezenet(version, num_classes=1000):
        pool = lambda: tnn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            feats = [tnn.Conv2d(3, 96, 7, 2), tnn.ReLU(), pool(), TFire(96, 16, 64, 64), TFire(128, 16, 64, 64),
                     TFire(128, 32, 128, 128), pool(), TFire(256, 32, 128, 128), TFire(256, 48, 192, 192),
                     TFire(384, 48, 192, 192), TFire(384, 64, 256, 256), pool(), TFire(512, 64, 256, 256)]
        else:
            feats = [tnn.Conv2d(3, 64, 3, 2), tnn.ReLU(), pool(), TFire(64, 16, 64, 64), TFire(128, 16, 64, 64),
                     pool(), TFire(128, 32, 128, 128), TFire(256, 32, 128, 128), pool(),
                     TFire(256, 48, 192, 192), TFire(384, 48, 192, 192), TFire(384, 64, 256, 256),
                     TFire(512, 64, 256, 256)]
        classifier = tnn.Sequential(tnn.Dropout(0.5), tnn.Conv2d(512, num_classes, 1), tnn.ReLU(),
                                    tnn.AdaptiveAvgPool2d(1))
        return tnn.Sequential(OrderedDict(features=tnn.Sequential(*feats), classifier=classifier,
                                          flatten=tnn.Flatten()))

    _TORCH_DEFS = dict(
        torch=torch, Inception=TInception, Bottleneck=TBottleneck, Fire=TFire, MLPConv=mlpconv,
        BasicConv2d=TBasicConv2d, nin_cifar10=nin_cifar10, googlenet=googlenet, resnet50=resnet50,
        squeezenet1_0=lambda **kw: squeezenet("1_0", **kw), squeezenet1_1=lambda **kw: squeezenet("1_1", **kw))
    return _TORCH_DEFS


def torch_module(kind: str, *args, state_dict=None, dtype=None, **kwargs):
    """The torch.nn twin of a cconv block/model (``kind`` as in _torch_defs), eval mode,
    loaded (strictly) from a cconv ``state_dict`` when given; None without torch."""
    defs = _torch_defs()
    if defs is None:
        return None
    torch = defs["torch"]
    m = defs[kind](*args, **kwargs)
    if dtype is not None:
        m = m.to(torch.float64 if np.dtype(dtype) == np.float64 else torch.float32)
    if state_dict is not None:
        sd = {k: torch.from_numpy(np.array(v)) for k, v in state_dict.items()}
        m.load_state_dict(sd, strict=True)
    return m.eval()


# ----------------------------------------------------------------------------- cases


class Case:
    """One benchmark case: a cconv block/model, its torch twin, a fixed input."""

    def __init__(self, name: str, build: Callable[..., Module], torch_kind: str, torch_args: tuple,
                 input_shape: tuple, seed: int = 0):
        self.name = name
        self.input_shape = tuple(input_shape)
        self._build, self._torch_kind, self._torch_args, self._seed = build, torch_kind, torch_args, seed
        self._model = None
        self.macs = int(_macs(self.model, self.input_shape))

    @property
    def model(self) -> Module:
        if self._model is None:
            self._model = randomize(self._build(np.float32), self._seed).prepare()
        return self._model

    @property
    def x(self) -> np.ndarray:
        return np.random.default_rng(self._seed + 1).standard_normal(self.input_shape).astype(np.float32)

    def make_cconv(self, num_threads: int | None = None) -> Callable[[], np.ndarray]:
        """Zero-argument callable running the prepared cconv model on the fixed input
        (``num_threads`` is passed to every conv/pool call; None: OpenMP default)."""
        model, x = self.model, self.x
        model.set_num_threads(num_threads)
        model(x)  # warm up: packs (BN-folded) weights
        return lambda: model(x)

    def make_torch(self, num_threads: int | None = None):
        m = torch_module(self._torch_kind, *self._torch_args, state_dict=self.model.state_dict())
        if m is None:
            return None
        torch = _torch_defs()["torch"]
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        xt = torch.from_numpy(self.x)

        def run():
            with torch.no_grad():
                return m(xt)
        return run

    def reference(self) -> np.ndarray:
        """Reference output: torch float64 when available, else cconv in float64."""
        sd = self.model.state_dict()
        m = torch_module(self._torch_kind, *self._torch_args, state_dict=sd, dtype=np.float64)
        if m is not None:
            torch = _torch_defs()["torch"]
            with torch.no_grad():
                return m(torch.from_numpy(self.x.astype(np.float64))).numpy()
        ref = self._build(np.float64).load_state_dict(sd)
        return ref(self.x.astype(np.float64))

    def check(self, tol: float = TOL) -> float:
        y = self.model(self.x)
        ref = self.reference()
        if y.shape != ref.shape:
            raise AssertionError(f"{self.name}: output shape {y.shape} != reference {ref.shape}")
        err = float(np.max(np.abs(y.astype(np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-30))
        if not err <= tol:
            raise AssertionError(f"{self.name}: relative error {err:.3g} > {tol:g}")
        return err

    def __repr__(self):
        return f"Case({self.name!r}, input={self.input_shape}, macs={self.macs:,})"


def block_cases() -> list[Case]:
    inc3a = (192, 64, 96, 128, 16, 32, 32)
    return [
        Case("inception3a", lambda dt: Inception(*inc3a, dtype=dt, seed=1), "Inception", inc3a,
             (1, 192, 28, 28)),
        Case("bottleneck_conv2_x", lambda dt: Bottleneck(256, 64, dtype=dt, seed=2), "Bottleneck", (256, 64),
             (1, 256, 56, 56)),
        Case("bottleneck_conv4_x", lambda dt: Bottleneck(1024, 256, dtype=dt, seed=3), "Bottleneck",
             (1024, 256), (1, 1024, 14, 14)),
        Case("fire2", lambda dt: Fire(96, 16, 64, 64, dtype=dt, seed=4), "Fire", (96, 16, 64, 64),
             (1, 96, 55, 55)),
        Case("mlpconv_nin1", lambda dt: MLPConv(3, (192, 160, 96), 5, padding=2, dtype=dt, seed=5), "MLPConv",
             (3, (192, 160, 96), 5, 1, 2), (1, 3, 32, 32)),
    ]


NETS = OrderedDict([
    ("nin_cifar10", (3, 32, 32)),
    ("googlenet", (3, 224, 224)),
    ("resnet50", (3, 224, 224)),
    ("squeezenet1_0", (3, 224, 224)),
    ("squeezenet1_1", (3, 224, 224)),
])


def net_cases(batches=(1, 8)) -> list[Case]:
    cases = []
    for name, chw in NETS.items():
        factory = getattr(_models, name)
        for n in batches:
            cases.append(Case(f"{name}_b{n}", lambda dt, f=factory: f(dtype=dt, seed=0), name, (),
                              (n, *chw)))
    return cases

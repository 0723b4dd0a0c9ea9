"""cconv.nn - inference-only neural-network layers on NumPy arrays.

Modules hold their parameters as NumPy arrays with PyTorch's names and shapes
(``conv.weight`` is (K, C/groups, R, S), BatchNorm keeps ``running_mean`` ...),
so ``state_dict()`` / ``load_state_dict()`` exchange dotted-key dicts with
``torch.nn`` models (``{k: v.numpy() for k, v in m.state_dict().items()}``).

Convolutions run through :func:`cconv.conv2d` with weights packed once by
:func:`cconv.pack_weights`; the packed form is rebuilt whenever a parameter
array is replaced (parameters are stored as read-only copies, so in-place edits
raise instead of silently going stale).

Fusion (on by default, ``model.fuse(False)`` turns it off): inside containers a
``Conv2d`` followed by ``BatchNorm2d`` has the BN folded into its weights and
bias, a following ``ReLU`` becomes the convolution's fused epilogue,
``Concat`` branches write straight into their channel slice of one
preallocated output (``out=``), and ``Residual``/``Bottleneck`` add the
shortcut and apply the ReLU inside the last convolution (``residual=``).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator, Mapping

import numpy as np

import cconv as _cc

__all__ = [
    "Module", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d",
    "AdaptiveAvgPool2d", "Dropout", "Flatten", "Linear", "Identity", "Sequential", "Concat",
    "Residual",
]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    t = tuple(int(a) for a in v)
    if len(t) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v!r}")
    return t


def _rng(rng, seed):
    if rng is not None:
        return rng
    return np.random.default_rng(seed)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _check_4d(x, who) -> np.ndarray:
    """x as an array; ValueError naming ``who`` (a module, repr'd only on error) unless 4-D."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{who!r}: expected a 4-D (N, C, H, W) input, got shape {x.shape}")
    return x


def _epilogue(y, out, residual, relu):
    """y (+ residual) (ReLU) -> out (or a new array); never modifies y in place."""
    if residual is not None:
        y = y + residual
    if relu:
        y = np.maximum(y, 0)
    if out is not None:
        out[...] = y
        return out
    return y


def _pool_out(L: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """Output length of a pooling window, PyTorch's rule (incl. ceil_mode)."""
    o = (L + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= L + p:
        o -= 1
    return o


# --------------------------------------------------------------------------- base


class Module:
    """Base class: parameters, buffers, child modules, state dicts, fusion flag."""

    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_version", 0)
        object.__setattr__(self, "_fused", True)

    # -- attribute plumbing (torch-like) --
    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_params", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        d = self.__dict__
        if name in d.get("_params", ()) or name in d.get("_buffers", ()):
            self._assign(name, value)
        elif isinstance(value, Module):
            d["_modules"][name] = value
        elif name in d.get("_modules", ()):
            raise TypeError(f"cannot replace child module {name!r} with {type(value).__name__}")
        else:
            object.__setattr__(self, name, value)

    def _register(self, name: str, value, buffer: bool = False):
        store = self._buffers if buffer else self._params
        if value is None:
            store[name] = None
            return
        store[name] = _readonly(np.array(value, dtype=self.dtype, copy=True))

    def _assign(self, name: str, value):
        """Replace a parameter/buffer array: same shape required, stored as a read-only copy."""
        store = self._params if name in self._params else self._buffers
        old = store[name]
        if old is None:
            if value is not None:
                raise ValueError(f"{type(self).__name__}.{name} is disabled (None); cannot assign an array")
            return
        arr = np.asarray(value)
        if arr.shape != old.shape:
            raise ValueError(f"{type(self).__name__}.{name}: expected shape {old.shape}, got {arr.shape}")
        store[name] = _readonly(np.array(arr, dtype=old.dtype, copy=True))
        object.__setattr__(self, "_version", self._version + 1)

    # -- structure --
    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = ""):
        for mname, m in self.named_modules(prefix):
            for pname, p in m._params.items():
                if p is not None:
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> list[np.ndarray]:
        """The trainable-parameter arrays (weights and biases; not BN running stats)."""
        return [p for _, p in self.named_parameters()]

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """PyTorch-style dotted keys -> arrays (parameters and buffers, read-only views)."""
        out = OrderedDict()
        for mname, m in self.named_modules():
            for store in (m._params, m._buffers):
                for k, v in store.items():
                    if v is not None:
                        out[f"{mname}.{k}" if mname else k] = v
        return out

    def _ignorable_keys(self) -> set[str]:
        keys = set()
        for mname, m in self.named_modules():
            if isinstance(m, BatchNorm2d):
                keys.add(f"{mname}.num_batches_tracked" if mname else "num_batches_tracked")
        return keys

    def load_state_dict(self, state: Mapping, strict: bool = True) -> "Module":
        """Load arrays by dotted key (a dict, an ``np.load`` npz file, or a torch state_dict).

        strict=True: missing and unexpected keys raise KeyError naming them.
        Wrong shapes always raise ValueError naming them; nothing is modified
        unless every key checks out.
        """
        targets = {}
        for mname, m in self.named_modules():
            for store in (m._params, m._buffers):
                for k, v in store.items():
                    if v is not None:
                        targets[f"{mname}.{k}" if mname else k] = (m, k, v)
        given = list(state.keys())
        ignorable = self._ignorable_keys()
        unexpected = [k for k in given if k not in targets and k not in ignorable]
        missing = [k for k in targets if k not in state]
        if strict and (unexpected or missing):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise KeyError(f"{type(self).__name__}.load_state_dict: " + "; ".join(parts))
        new, bad = {}, []
        for k in given:
            if k not in targets:
                continue
            v = state[k]
            if hasattr(v, "detach"):  # torch tensor
                v = v.detach().cpu().numpy()
            v = np.asarray(v)
            m, name, old = targets[k]
            if v.shape != old.shape:
                bad.append(f"{k}: expected {old.shape}, got {v.shape}")
            else:
                new[k] = v
        if bad:
            raise ValueError(f"{type(self).__name__}.load_state_dict: wrong shapes: " + "; ".join(bad))
        for k, v in new.items():
            m, name, _ = targets[k]
            m._assign(name, v)
        return self

    # -- inference configuration --
    def fuse(self, enabled: bool = True) -> "Module":
        """Turn conv+BN(+ReLU) folding and fused epilogues on (default) or off, recursively."""
        for m in self.modules():
            object.__setattr__(m, "_fused", bool(enabled))
        return self

    def prepare(self) -> "Module":
        """Fuse and pre-pack every convolution's (BN-folded) weights so the first call is fast."""
        self.fuse(True)
        for m in self.modules():
            m._prepare_children()
        return self

    def _prepare_children(self):
        pass

    def set_num_threads(self, num_threads: int | None) -> "Module":
        """Thread count passed to every convolution/pooling call (None: OpenMP default)."""
        for m in self.modules():
            object.__setattr__(m, "num_threads", num_threads)
        return self

    def eval(self) -> "Module":  # torch compatibility; always in inference mode
        return self

    # -- running --
    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def output_shape(self, in_shape: tuple) -> tuple:
        """Output shape for an input shape, without running (raises on invalid input)."""
        raise NotImplementedError

    def _run(self, x, out=None, residual=None, relu=False):
        """forward(x), then + residual, then ReLU, written into ``out`` when given.

        Modules that can fuse these (Conv2d, containers ending in one) override it.
        """
        return _epilogue(self.forward(x), out, residual, relu)

    # -- summary support --
    def _trace(self, in_shape, prefix, rows):
        """Append (name, module, in_shape, out_shape) for each leaf layer; return the output shape."""
        out = self.output_shape(in_shape)
        rows.append((prefix, self, tuple(in_shape), tuple(out)))
        return out

    def _macs(self, in_shape, out_shape) -> int:
        """Multiply-accumulates of this leaf layer (convolutions and linear layers only)."""
        return 0

    # -- repr --
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"


# --------------------------------------------------------------------------- layers


class Conv2d(Module):
    """2-D convolution (cross-correlation) with fused bias/activation/residual epilogue."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, activation=None, dtype=np.float32, *, seed=None, rng=None):
        super().__init__()
        self.dtype = _dtype(dtype)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        if activation not in (None, "relu"):
            raise ValueError(f"activation must be None or 'relu', got {activation!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.dilation = _pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("padding='same' requires stride 1")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding")
        self.activation = activation
        self.num_threads = None
        rng = _rng(rng, seed)
        cg = in_channels // groups
        fan_in = cg * self.kernel_size[0] * self.kernel_size[1]
        w = rng.standard_normal((out_channels, cg, *self.kernel_size)) * np.sqrt(2.0 / fan_in)
        self._register("weight", w)
        self._register("bias", np.zeros(out_channels) if bias else None)
        self._cache = {}

    def _assign(self, name, value):
        super()._assign(name, value)
        self._cache.clear()

    # packing -----------------------------------------------------------
    @property
    def packed_weight(self):
        """The weight as :class:`cconv.PackedWeights` (packed on first use, after each change;
        a 3x3 or 5x5 layer's Winograd weights are added by the first call that takes Winograd)."""
        return self._effective(None)[0]

    def _wino_layer(self):
        """3x3 or 5x5, stride 1, dilation 1, one group: a layer Winograd can serve."""
        return (self.kernel_size in ((3, 3), (5, 5)) and self.stride == (1, 1)
                and self.dilation == (1, 1) and self.groups == 1)

    def _wants_winograd(self, in_shape):
        """Whether a call on a finite input of ``in_shape`` takes Winograd."""
        k = self.kernel_size[0]
        pad = ((k // 2,) * 2 if self.padding == "same" else (0, 0) if self.padding == "valid"
               else self.padding)
        _, c, h, w = in_shape
        return _cc._core._winograd_applies(self.dtype, c, self.out_channels, h, w, *pad, k=k)

    def _effective(self, bn, in_shape=None):
        """(packed weight, bias) with ``bn`` folded in when given; cached per versions.

        Weights are packed in their direct layout only; a 3x3 or 5x5 stride-1 layer
        adds the Winograd layout at the first call (input shape ``in_shape``)
        that takes Winograd.  The transformed weights are 36/9 (5x5: 36/25) the bytes, and
        strided layers or layers on small images never use them (ResNet-50
        after a 224x224 call: 144 MB of packed weights, not 264)."""
        key = (id(bn), self._version, bn._version if bn is not None else -1)
        hit = self._cache.get(id(bn))
        if hit is not None and hit[0] == key:
            packed, b, w = hit[1:]
            if w is None or in_shape is None or not self._wants_winograd(in_shape):
                return packed, b
        else:
            w, b = self.weight, self.bias
            if bn is not None:
                scale, shift = bn._scale_shift()
                w = w.astype(np.float64) * scale[:, None, None, None]
                b = shift if b is None else b.astype(np.float64) * scale + shift
                w, b = w.astype(self.dtype), b.astype(self.dtype)
            w = np.ascontiguousarray(w)
        # the direct layout only while no call has taken Winograd (always, for
        # a layer it cannot serve); w is kept (the layer's own weight unless BN
        # was folded in) to add the Winograd layout later
        wino = self._wino_layer()
        now = wino and in_shape is not None and self._wants_winograd(in_shape)
        packed = _cc._core.PackedWeights(w, self.groups, _direct_only=not now)
        self._cache[id(bn)] = (key, packed, b, w if wino and not now else None)
        return packed, b

    def _prepare_children(self):
        self._effective(None)

    # running -----------------------------------------------------------
    def _check(self, x):
        x = _check_4d(x, self)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expected input with {self.in_channels} channels, "
                             f"got {x.shape[1]} (input shape {x.shape})")
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def _conv(self, x, out=None, residual=None, relu=False, bn=None):
        x = self._check(x)
        w, b = self._effective(bn, x.shape)
        act = "relu" if (relu or self.activation == "relu") else None
        return _cc.conv2d(x, w, b, stride=self.stride, padding=self.padding, dilation=self.dilation,
                          groups=self.groups, activation=act, residual=residual, out=out,
                          num_threads=self.num_threads)

    def forward(self, x):
        return self._conv(x)

    def _run(self, x, out=None, residual=None, relu=False):
        if self._fused and (residual is None or self.activation is None):
            return self._conv(x, out=out, residual=residual, relu=relu)
        return super()._run(x, out, residual, relu)

    def output_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"{self!r}: expected a 4-D (N, C, H, W) input, got shape {tuple(in_shape)}")
        n, c, h, w = in_shape
        if c != self.in_channels:
            raise ValueError(f"{self!r}: expected input with {self.in_channels} channels, "
                             f"got {c} (input shape {tuple(in_shape)})")
        (r, s), (dh, dw) = self.kernel_size, self.dilation
        if self.padding == "same":
            return (n, self.out_channels, h, w)
        ph, pw = (0, 0) if self.padding == "valid" else self.padding
        ho = (h + 2 * ph - dh * (r - 1) - 1) // self.stride[0] + 1
        wo = (w + 2 * pw - dw * (s - 1) - 1) // self.stride[1] + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"{self!r}: input {h}x{w} is too small for this kernel")
        return (n, self.out_channels, ho, wo)

    def _macs(self, in_shape, out_shape):
        n, k, ho, wo = out_shape
        return n * k * ho * wo * (self.in_channels // self.groups) * self.kernel_size[0] * self.kernel_size[1]

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.activation:
            s += f", activation={self.activation!r}"
        if self.dtype != np.float32:
            s += f", dtype={self.dtype.name}"
        return s


class BatchNorm2d(Module):
    """Inference BatchNorm: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        super().__init__()
        self.dtype = _dtype(dtype)
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self._register("weight", np.ones(num_features) if affine else None)
        self._register("bias", np.zeros(num_features) if affine else None)
        self._register("running_mean", np.zeros(num_features), buffer=True)
        self._register("running_var", np.ones(num_features), buffer=True)

    def _scale_shift(self):
        """float64 (scale, shift) with y = x * scale + shift per channel."""
        scale = 1.0 / np.sqrt(self.running_var.astype(np.float64) + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        shift = -self.running_mean.astype(np.float64) * scale
        if self.bias is not None:
            shift = shift + self.bias
        return scale, shift

    def forward(self, x):
        x = _check_4d(x, self)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input with {self.num_features} channels, got {x.shape[1]}")
        scale, shift = self._scale_shift()
        y = x * scale.astype(self.dtype)[None, :, None, None]
        y += shift.astype(self.dtype)[None, :, None, None]
        return y

    def output_shape(self, in_shape):
        if len(in_shape) != 4 or in_shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected (N, {self.num_features}, H, W) input, got {tuple(in_shape)}")
        return tuple(in_shape)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return _cc.relu(np.asarray(x))

    def output_shape(self, in_shape):
        return tuple(in_shape)


class Identity(Module):
    def forward(self, x):
        return x

    def output_shape(self, in_shape):
        return tuple(in_shape)


class Dropout(Identity):
    """Identity at inference (``p`` kept for repr/compatibility)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p

    def extra_repr(self):
        return f"p={self.p}"


class _Pool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.ceil_mode = bool(ceil_mode)
        self.dilation = (1, 1)
        self.num_threads = None
        for k, p in zip(self.kernel_size, self.padding):
            if p * 2 > k:
                raise ValueError(f"padding {self.padding} must be at most half of kernel_size {self.kernel_size}")

    def output_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"{self!r}: expected a 4-D (N, C, H, W) input, got shape {tuple(in_shape)}")
        n, c, h, w = in_shape
        ho = _pool_out(h, self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0], self.ceil_mode)
        wo = _pool_out(w, self.kernel_size[1], self.stride[1], self.padding[1], self.dilation[1], self.ceil_mode)
        if ho < 1 or wo < 1:
            raise ValueError(f"{self!r}: input {h}x{w} is too small")
        return (n, c, ho, wo)

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.ceil_mode:
            s += ", ceil_mode=True"
        return s


class MaxPool2d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = _pair(dilation, "dilation")

    def forward(self, x):
        x = _check_4d(x, self)
        return _cc.max_pool2d(np.ascontiguousarray(x), self.kernel_size, self.stride, self.padding,
                              self.dilation, self.ceil_mode, num_threads=self.num_threads)


class AvgPool2d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        x = _check_4d(x, self)
        return _cc.avg_pool2d(np.ascontiguousarray(x), self.kernel_size, self.stride, self.padding,
                              self.ceil_mode, self.count_include_pad, num_threads=self.num_threads)


class GlobalAvgPool2d(Module):
    """Mean over H and W -> (N, C, 1, 1); same as ``nn.AdaptiveAvgPool2d(1)``."""

    def forward(self, x):
        x = _check_4d(x, self)
        return _cc.global_avg_pool2d(np.ascontiguousarray(x))

    def output_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"{self!r}: expected a 4-D (N, C, H, W) input, got shape {tuple(in_shape)}")
        return (in_shape[0], in_shape[1], 1, 1)


def AdaptiveAvgPool2d(output_size=1):
    """Only output size 1 (global average pooling) is supported."""
    if _pair(output_size, "output_size") != (1, 1):
        raise ValueError(f"AdaptiveAvgPool2d supports output_size=1 only, got {output_size!r}")
    return GlobalAvgPool2d()


class Flatten(Module):
    def __init__(self, start_dim=1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        x = np.asarray(x)
        return x.reshape(x.shape[:self.start_dim] + (-1,))

    def output_shape(self, in_shape):
        return tuple(in_shape[:self.start_dim]) + (int(np.prod(in_shape[self.start_dim:])),)


class Linear(Module):
    """y = x @ weight.T + bias (weight is (out_features, in_features), as in torch)."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, *, seed=None, rng=None):
        super().__init__()
        self.dtype = _dtype(dtype)
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = _rng(rng, seed)
        w = rng.standard_normal((out_features, in_features)) * np.sqrt(2.0 / in_features)
        self._register("weight", w)
        self._register("bias", np.zeros(out_features) if bias else None)

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input with last dimension {self.in_features}, "
                             f"got shape {x.shape}")
        y = np.matmul(x.astype(self.dtype, copy=False), self.weight.T)
        if self.bias is not None:
            y += self.bias
        return y

    def output_shape(self, in_shape):
        if in_shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input with last dimension {self.in_features}, "
                             f"got shape {tuple(in_shape)}")
        return tuple(in_shape[:-1]) + (self.out_features,)

    def _macs(self, in_shape, out_shape):
        return int(np.prod(out_shape)) * self.in_features

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# --------------------------------------------------------------------------- containers


def _plan(mods: list[Module], fused: bool):
    """Group a module list into steps: (conv, bn|None, relu) fusions or (module, None, False)."""
    steps, i = [], 0
    while i < len(mods):
        m = mods[i]
        if fused and isinstance(m, Conv2d):
            bn, relu, j = None, False, i + 1
            if m.activation is None and j < len(mods) and isinstance(mods[j], BatchNorm2d) \
                    and mods[j].num_features == m.out_channels:
                bn, j = mods[j], j + 1
            if j < len(mods) and isinstance(mods[j], ReLU):
                relu, j = True, j + 1
            steps.append((m, bn, relu))
            i = j
        else:
            steps.append((m, None, False))
            i += 1
    return steps


def conv_bn_act(conv: Conv2d, bn, x, *, relu=False, residual=None, out=None, fused=True):
    """act(bn(conv(x)) + residual) -> out; one fused conv call when ``fused`` allows it."""
    if fused and (bn is None or conv.activation is None):
        return conv._conv(x, out=out, residual=residual, relu=relu, bn=bn)
    y = conv._conv(x)
    if bn is not None:
        y = bn(y)
    return _epilogue(y, out, residual, relu)


_CHAIN = "1x1 chain"  # the module slot of a step that runs several 1x1 steps as one call


def _chainable(step) -> bool:
    """A fused step that cconv.conv1x1_chain can run: a plain 1x1 conv (+BN, +ReLU)."""
    m, bn, _ = step
    return (isinstance(m, Conv2d) and m.kernel_size == (1, 1) and m.stride == (1, 1)
            and m.padding in ((0, 0), "valid", "same") and m.groups == 1
            and (bn is None or m.activation is None))


def _merge_chains(steps):
    """Runs of two or more chainable steps of one dtype become one (_CHAIN, steps, False) step."""
    merged, i = [], 0
    while i < len(steps):
        j = i
        while j < len(steps) and _chainable(steps[j]) and steps[j][0].dtype == steps[i][0].dtype:
            j += 1
        if j - i >= 2:
            merged.append((_CHAIN, steps[i:j], False))
            i = j
        else:
            merged.append(steps[i])
            i += 1
    return merged


def _run_chain(steps, x, out=None, residual=None, relu=False):
    """The 1x1 steps as one conv1x1_chain call (the intermediate activations stay in cache)."""
    if residual is not None:  # the chain has no residual epilogue: the last conv adds it
        x = _run_chain(steps[:-1], x) if len(steps) > 2 else _run_step(steps[0], x)
        return _run_step(steps[-1], x, out, residual, relu)
    first = steps[0][0]
    x = first._check(x)
    ws, bs, acts = [], [], []
    for i, (m, bn, step_relu) in enumerate(steps):
        w, b = m._effective(bn)
        ws.append(w)
        bs.append(b)
        last_relu = relu and i + 1 == len(steps)
        acts.append("relu" if (step_relu or last_relu or m.activation == "relu") else None)
    return _cc.conv1x1_chain(x, ws, bs, activation=acts, out=out, num_threads=first.num_threads)


def _run_step(step, x, out=None, residual=None, relu=False, fused=True):
    m, bn, step_relu = step
    if m is _CHAIN:
        return _run_chain(step[1], x, out, residual, relu)
    if isinstance(m, Conv2d) and fused:
        if residual is None or not step_relu:
            return conv_bn_act(m, bn, x, relu=step_relu or relu, residual=residual, out=out)
        return _epilogue(conv_bn_act(m, bn, x, relu=True), out, residual, relu)
    return m._run(x, out, residual, relu)


class Sequential(Module):
    """Modules applied in order; ``Sequential(OrderedDict(name=module, ...))`` names them."""

    def __init__(self, *mods):
        super().__init__()
        items = mods[0].items() if len(mods) == 1 and isinstance(mods[0], dict) else \
            [(str(i), m) for i, m in enumerate(mods)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"{type(self).__name__} item {name!r} is not a Module: {type(m).__name__}")
            setattr(self, name, m)

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _steps(self):
        steps = _plan(list(self._modules.values()), self._fused)
        return _merge_chains(steps) if self._fused else steps

    def forward(self, x):
        for step in self._steps():
            x = _run_step(step, x, fused=self._fused)
        return x

    def _run(self, x, out=None, residual=None, relu=False):
        steps = self._steps()
        if not steps:
            return _epilogue(x, out, residual, relu)
        for step in steps[:-1]:
            x = _run_step(step, x, fused=self._fused)
        return _run_step(steps[-1], x, out, residual, relu, fused=self._fused)

    def output_shape(self, in_shape):
        s = tuple(in_shape)
        for m in self:
            s = m.output_shape(s)
        return s

    def _trace(self, in_shape, prefix, rows):
        s = tuple(in_shape)
        for name, m in self._modules.items():
            s = m._trace(s, f"{prefix}.{name}" if prefix else name, rows)
        return s


class Concat(Module):
    """Channel concatenation of branches that all see the same input.

    The output (N, sum(C_i), H, W) is allocated once; each branch writes its
    channel slice directly (its final convolution's ``out=``), so there is no
    np.concatenate.  A branch whose last op cannot write into ``out`` (e.g. a
    pooling) is copied into its slice.  Branches are named "0", "1", ... or by
    passing one ``OrderedDict``.
    """

    def __init__(self, *branches):
        super().__init__()
        items = branches[0].items() if len(branches) == 1 and isinstance(branches[0], dict) else \
            [(str(i), m) for i, m in enumerate(branches)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"{type(self).__name__} branch {name!r} is not a Module: {type(m).__name__}")
            setattr(self, name, m)
        if not self._modules:
            raise ValueError("Concat needs at least one branch")

    def _branch_shapes(self, in_shape):
        shapes = [m.output_shape(in_shape) for m in self._modules.values()]
        first = shapes[0]
        for name, s in zip(self._modules, shapes):
            if len(s) != 4 or s[0] != first[0] or s[2:] != first[2:]:
                raise ValueError(f"Concat: branch {name!r} output {s} does not match {first} "
                                 f"outside the channel dimension")
        return shapes

    def output_shape(self, in_shape):
        shapes = self._branch_shapes(in_shape)
        return (shapes[0][0], sum(s[1] for s in shapes), *shapes[0][2:])

    def forward(self, x):
        return self._run(x)

    def _run(self, x, out=None, residual=None, relu=False):
        x = np.asarray(x)
        shapes = self._branch_shapes(x.shape)
        full = (shapes[0][0], sum(s[1] for s in shapes), *shapes[0][2:])
        dtype = next((m.dtype for m in self.modules() if isinstance(m, Conv2d)), x.dtype)
        if residual is not None:
            return Module._run(self, x, out, residual, relu)
        if out is None:
            out = _cc._core.empty_aligned(full, dtype)
        elif out.shape != full:
            raise ValueError(f"Concat: out has shape {out.shape}, expected {full}")
        c0 = 0
        for m, s in zip(self._modules.values(), shapes):
            m._run(x, out=out[:, c0:c0 + s[1]], relu=relu)
            c0 += s[1]
        return out

    def _trace(self, in_shape, prefix, rows):
        for name, m in self._modules.items():
            m._trace(in_shape, f"{prefix}.{name}" if prefix else name, rows)
        return self.output_shape(in_shape)


class Residual(Module):
    """y = relu(body(x) + shortcut(x)) (shortcut defaults to identity).

    The add and the ReLU are fused into the body's last convolution
    (``conv2d(..., residual=shortcut(x), activation='relu')``).
    """

    def __init__(self, body: Module, shortcut: Module | None = None, relu: bool = True):
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut
        self.relu = relu

    def _shortcut(self):
        return self._modules.get("shortcut")

    def forward(self, x):
        return self._run(x)

    def _run(self, x, out=None, residual=None, relu=False):
        if residual is not None:
            return Module._run(self, x, out, residual, relu)
        sc = self._shortcut()
        r = x if sc is None else sc(x)
        shape = self.body.output_shape(np.shape(x))
        if tuple(shape) != r.shape:
            raise ValueError(f"Residual: body output {tuple(shape)} and shortcut output {r.shape} differ")
        return self.body._run(x, out=out, residual=r, relu=self.relu or relu)

    def output_shape(self, in_shape):
        s = self.body.output_shape(in_shape)
        sc = self._shortcut()
        r = tuple(in_shape) if sc is None else sc.output_shape(in_shape)
        if tuple(s) != tuple(r):
            raise ValueError(f"Residual: body output {tuple(s)} and shortcut output {tuple(r)} differ")
        return s

    def _trace(self, in_shape, prefix, rows):
        out = self.output_shape(in_shape)
        self.body._trace(in_shape, f"{prefix}.body" if prefix else "body", rows)
        sc = self._shortcut()
        if sc is not None:
            sc._trace(in_shape, f"{prefix}.shortcut" if prefix else "shortcut", rows)
        return out

    def extra_repr(self):
        return "" if self.relu else "relu=False"

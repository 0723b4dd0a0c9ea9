#!/usr/bin/env python
"""fuzz_driver.py - hypothesis-driven fuzzing of every public cconv function.

    python tests/fuzz_driver.py --cases N --seed S

Each case draws a function (conv1d/2d/3d, pack_weights, max/avg_pool1d/2d/3d,
global pools, relu) and arguments that are valid or not: shapes with zeros and
huge (zero-stride) dimensions, strides/paddings/dilations/groups incl.
negative, huge, wrong-length, wrong-type and bad strings, every dtype, `out`
arrays right and wrong (channel slices, read-only, Fortran, self-overlapping,
overlapping x), non-contiguous/negative-stride/broadcast inputs, residuals
incl. out=residual.  An oracle written here from the documented rules says
whether the call is valid:
  * invalid -> only ValueError, TypeError or MemoryError may be raised;
  * valid   -> the result must match the float64 reference of
    tests/reference.py within its error bound (max pool and relu exactly),
    land in `out` when given without touching the rest of its buffer, and
    leave the inputs unchanged; MemoryError is accepted only when the
    output would be big.
Runs in its own process (the test spawns it) so that a crash is a failure
and not a dead test runner.  Prints one JSON line of counts at the end and
exits 0 when every case passed, 1 on the first failure (with the case).
"""
from __future__ import annotations

import argparse
import faulthandler
import itertools
import json
import operator
import os
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cconv  # noqa: E402
from reference import assert_close, conv_ref, pool_ref  # noqa: E402

DOCUMENTED = (ValueError, TypeError, MemoryError)
MAX_INT = 1 << 40            # cconv refuses integer arguments above this
MAX_BYTES = 1 << 60          # ... and arrays above this many bytes
BIG_BYTES = 1 << 25          # above this a valid call may raise MemoryError
HUGE = [2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**40 + 1, 2**62, 2**63 - 1, 2**63, 2**64 + 3]
BAD_TYPES = [1.5, 2.0, "2", None, True, False, b"1", [1.5], object(), np.float32(1)]
FLOAT = (np.float32, np.float64)
BAD_DTYPES = (np.int32, np.int64, np.float16, np.complex64, np.bool_)


class Bad(Exception):
    """The oracle's verdict: this call is invalid."""


class Case:
    """What one case is, for the failure report."""

    def __init__(self, name):
        self.name = name
        self.desc = {}

    def note(self, **kw):
        self.desc.update(kw)

    def __repr__(self):
        parts = []
        for k, v in self.desc.items():
            if isinstance(v, np.ndarray):
                v = f"ndarray{v.shape} {v.dtype} strides={v.strides}"
            parts.append(f"{k}={v!r}")
        return f"{self.name}(" + ", ".join(parts) + ")"


# ------------------------------------------------------------------ oracle rules

def parse_int(v, minimum):
    if isinstance(v, (bool, np.bool_)):
        raise Bad("bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise Bad("not an integer") from None
    if i < minimum or i > MAX_INT:
        raise Bad("out of range")
    return int(i)


def parse_tuple(v, nd, minimum):
    if isinstance(v, (tuple, list)):
        if len(v) != nd:
            raise Bad("length")
        return tuple(parse_int(e, minimum) for e in v)
    return (parse_int(v, minimum),) * nd


def nbytes(shape, itemsize):
    n = itemsize
    for s in shape:
        n *= s
    return n


# ------------------------------------------------------------------ drawing helpers

STATE = {"clean": False, "case": None, "case_timeout": 60.0}


def pick(data, options, weights=None, bad=()):
    """One of options (weighted); in a clean case the indices in `bad`
    (the invalid choices) are never picked."""
    weights = list(weights or [1] * len(options))
    if STATE["clean"]:
        for i in bad:
            weights[i] = 0
    r = data.draw(st.integers(0, sum(weights) - 1))
    for o, w in zip(options, weights):
        if r < w:
            return o
        r -= w
    raise AssertionError


def draw_param(data, nd, lo, hi, minimum):
    """An int or tuple parameter, usually valid, sometimes huge, negative,
    of the wrong length or type."""
    kind = pick(data, ["int", "tuple", "list", "npint", "huge", "neg", "len", "type"],
                [40, 25, 4, 4, 6, 6, 4, 5], bad=(4, 5, 6, 7))
    if kind == "int":
        return data.draw(st.integers(lo, hi))
    if kind == "tuple":
        return tuple(data.draw(st.integers(lo, hi)) for _ in range(nd))
    if kind == "list":
        return [data.draw(st.integers(lo, hi)) for _ in range(nd)]
    if kind == "npint":
        return pick(data, [np.int64, np.int32, np.uint8])(data.draw(st.integers(lo, hi)))
    if kind == "huge":
        h = pick(data, HUGE)
        if data.draw(st.booleans()):
            return h
        t = [data.draw(st.integers(lo, hi)) for _ in range(nd)]
        t[data.draw(st.integers(0, nd - 1))] = h
        return tuple(t)
    if kind == "neg":
        return pick(data, [minimum - 1, -1, -(2**63), -(2**31), minimum - 2])
    if kind == "len":
        n = pick(data, [0, nd + 1, nd + 2] + ([1] if nd > 1 else []))
        return tuple(data.draw(st.integers(lo, hi)) for _ in range(n))
    return pick(data, BAD_TYPES)


def draw_threads(data):
    return pick(data, [None, 1, 2, 3, 0, -1, "2", 2.0, 2**31, 2**40, 2**70, np.int64(2)],
                [40, 10, 10, 4, 2, 2, 2, 2, 2, 1, 1, 2], bad=range(4, 11))


def parse_threads(v):
    if v is None:
        return None
    parse_int(v, 1)
    if operator.index(v) > (1 << 16):
        raise Bad("too many threads")
    return operator.index(v)


def values(rng, shape, dtype, special=False):
    """Random values; with `special`, some NaN/inf/denormal/-0."""
    a = rng.standard_normal(shape).astype(dtype) if nbytes(shape, 1) else np.zeros(shape, dtype)
    if special and a.size:
        k = max(1, a.size // 8)
        idx = rng.integers(0, a.size, k)
        sp = np.array([np.nan, np.inf, -np.inf, np.finfo(dtype).smallest_subnormal, -0.0],
                      dtype=dtype)
        a.reshape(-1)[idx] = sp[rng.integers(0, len(sp), k)]
    return a


def layout(data, rng, a):
    """The same values as `a` in another memory layout (all valid inputs)."""
    kind = pick(data, ["c", "strided", "neg", "fortran", "readonly", "list"], [50, 15, 10, 10, 10, 5])
    if kind == "c" or a.ndim == 0:
        return a
    if kind == "strided":
        big = np.empty(a.shape[:-1] + (a.shape[-1] * 2,), a.dtype)
        big[..., ::2] = a
        big[..., 1::2] = np.nan if a.dtype.kind in "fc" else 0
        return big[..., ::2]
    if kind == "neg":
        ax = data.draw(st.integers(0, a.ndim - 1))
        return np.flip(np.flip(a, ax).copy(), ax)
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if a.size <= 64 and a.dtype == np.float64 and all(a.shape):
        return a.tolist()          # np.asarray gives float64 back
    return a


def broadcast_huge(data, dtype, lead, nd):
    """A zero-stride view with a huge logical shape (no memory behind it)."""
    sp = [data.draw(st.integers(1, 4)) for _ in range(nd)]
    sp[data.draw(st.integers(0, nd - 1))] = pick(data, [2**31, 2**32 + 7, 2**40, 2**62 // 8])
    return huge_view(dtype, tuple(lead) + tuple(sp))


def huge_view(dtype, shape):
    """np.broadcast_to of one value; numpy refuses more than 2**63 elements,
    so the biggest dimension shrinks until it accepts."""
    shape = list(shape)
    while True:
        try:
            return np.broadcast_to(np.ones((), dtype), tuple(shape))
        except ValueError:
            i = int(np.argmax(shape))
            shape[i] = max(1, shape[i] // 1024)


# ------------------------------------------------------------------ references

def conv_ref_taps(x, w, b, stride, plo, dil, groups, osp, residual, activation):
    """Float64 convolution by kernel taps, only over the in-range part of the
    input: exact for any padding/dilation/stride (no padded copy).  Returns
    (y, |y| bound terms) like reference.conv_ref; cross-checked against it in
    tests/test_fuzz.py."""
    nd = x.ndim - 2
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    Kg = K // groups if groups else 0
    y = np.zeros((N, K) + tuple(osp))
    ay = np.zeros_like(y)
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    for tap in itertools.product(*[range(k) for k in w.shape[2:]]):
        osl, isl = [], []
        for i in range(nd):
            off = tap[i] * dil[i] - plo[i]          # input index = o*s + off
            n = x.shape[2 + i]
            o_lo = 0 if off >= 0 else (-off + stride[i] - 1) // stride[i]
            o_hi = min(osp[i], (n - 1 - off) // stride[i] + 1) if n - 1 - off >= 0 else 0
            if o_lo >= o_hi:
                break
            osl.append(slice(o_lo, o_hi))
            isl.append(slice(o_lo * stride[i] + off, (o_hi - 1) * stride[i] + off + 1, stride[i]))
        else:
            for g in range(groups):
                xs = x[(slice(None), slice(g * Cg, (g + 1) * Cg)) + tuple(isl)]
                wt = w[(slice(g * Kg, (g + 1) * Kg), slice(None)) + tap]
                tgt = (slice(None), slice(g * Kg, (g + 1) * Kg)) + tuple(osl)
                y[tgt] += np.einsum("nc...,kc->nk...", xs, wt)
                ay[tgt] += np.einsum("nc...,kc->nk...", np.abs(xs), np.abs(wt))
    if b is not None:
        sh = (1, -1) + (1,) * nd
        y += b.astype(np.float64).reshape(sh)
        ay += np.abs(b.astype(np.float64)).reshape(sh)
    if residual is not None:
        y += residual.astype(np.float64)
        ay += np.abs(residual.astype(np.float64))
    if activation == "relu":
        y = np.maximum(y, 0)
    return y, ay


def pool_ref_any(x, kind, ks, stride, pad, dil, ceil_mode, cip):
    """reference.pool_ref, except max pooling with a huge kernel, where the
    in-range taps are found by arithmetic instead of enumerating the kernel."""
    if kind == "avg" or max(ks) <= 256:
        return pool_ref(x, kind, ks, stride, pad, dil, ceil_mode, cip)
    return pool_ref_clipped_max(x, ks, stride, pad, dil, ceil_mode)


def pool_ref_clipped_max(x, ks, stride, pad, dil, ceil_mode):
    """Max pooling in float64 visiting only the in-range taps of each window."""
    nd = x.ndim - 2
    sp = x.shape[2:]
    osp = []
    for i in range(nd):
        eff = dil[i] * (ks[i] - 1) + 1
        o = (sp[i] + 2 * pad[i] - eff + (stride[i] - 1 if ceil_mode else 0)) // stride[i] + 1
        if ceil_mode and (o - 1) * stride[i] >= sp[i] + pad[i]:
            o -= 1
        osp.append(o)
    x64 = x.astype(np.float64)
    y = np.empty(x.shape[:2] + tuple(osp))
    for idx in itertools.product(*[range(o) for o in osp]):
        taps = []
        for i in range(nd):
            s0 = idx[i] * stride[i] - pad[i]
            j_lo = 0 if s0 >= 0 else (-s0 + dil[i] - 1) // dil[i]
            j_hi = min(ks[i], (sp[i] - 1 - s0) // dil[i] + 1) if sp[i] - 1 - s0 >= 0 else 0
            taps.append([s0 + j * dil[i] for j in range(j_lo, max(j_lo, j_hi))])
        win = x64[(slice(None), slice(None)) + np.ix_(*taps)]
        win = win.reshape(win.shape[:2] + (int(np.prod(win.shape[2:])),))
        v = win.max(axis=-1, initial=-np.inf)
        v[np.isnan(win).any(axis=-1)] = np.nan
        y[(slice(None), slice(None)) + idx] = v
    return y


# ------------------------------------------------------------------ cases

def check_result(case, got, want, absref=None, terms=None, exact=False):
    if not isinstance(got, np.ndarray):
        raise AssertionError(f"{case}: returned {type(got).__name__}, not an ndarray")
    if got.shape != want.shape:
        raise AssertionError(f"{case}: shape {got.shape}, expected {want.shape}")
    if exact:
        if not np.array_equal(got.astype(np.float64), want, equal_nan=True):
            bad = ~((got == want) | (np.isnan(got) & np.isnan(want)))
            raise AssertionError(f"{case}: {bad.sum()} of {got.size} values differ")
    else:
        try:
            assert_close(got, want, absref, terms)
        except AssertionError as e:
            raise AssertionError(f"{case}: {e}") from None


def spatial_ok(a, nd):
    """The last nd axes are C-contiguous (size-1 axes ignored; an empty array
    has no elements to lay out, so any strides will do)."""
    if a.size == 0:
        return True
    expect = a.itemsize
    for ax in range(a.ndim - 1, a.ndim - 1 - nd, -1):
        if a.shape[ax] != 1 and a.strides[ax] != expect:
            return False
        expect *= a.shape[ax]
    return True


def self_overlap(a):
    return any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape))


def same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def oracle_call(case, name, valid, call, stats, tolerated=()):
    """Run `call` and hold it to the oracle's verdict `valid`: a valid call
    must return (documented errors in `tolerated` excepted, e.g. a huge
    valid case may run out of memory), an invalid one must raise a documented
    error, and nothing may raise anything else.  Returns the result, or
    NO_RESULT after a documented error."""
    try:
        got = call()
    except DOCUMENTED as e:
        if valid and not isinstance(e, tolerated):
            raise AssertionError(f"{case}: valid call raised {type(e).__name__}: {e}") from None
        stats["error:" + type(e).__name__] += 1
        stats[name + ":error"] += 1
        return NO_RESULT
    except BaseException as e:  # noqa: BLE001 - anything else is a bug
        raise AssertionError(f"{case}: undocumented {type(e).__name__}: {e}") from None
    if not valid:
        raise AssertionError(f"{case}: invalid call returned a result instead of raising")
    stats[name + ":ok"] += 1
    return got


NO_RESULT = object()


def case_conv(data, rng, stats):
    nd = data.draw(st.integers(1, 3))
    name = f"conv{nd}d"
    case = Case(name)
    STATE["case"] = case
    dtype = pick(data, [np.float32, np.float64])
    groups_v = pick(data, [None, 1, 2, 3, "param"], [30, 20, 15, 10, 5])
    gv = 1 if groups_v in (None, "param") else groups_v
    Cg = pick(data, [0, 1, 2, 3, 4], [2, 30, 30, 20, 18])
    Kg = pick(data, [0, 1, 3, 7, 8, 9, 16], [2, 20, 20, 15, 15, 15, 5])
    N = pick(data, [0, 1, 2, 3], [3, 40, 40, 17])
    ksz = [data.draw(st.integers(1, 4 if nd < 3 else 3)) for _ in range(nd)]
    stride = draw_param(data, nd, 1, 3, 1)
    dilation = draw_param(data, nd, 1, 3, 1)
    padding = pick(data, ["param", "same", "valid", "bad"], [75, 10, 10, 5], bad=(3,))
    if padding == "param":
        padding = draw_param(data, nd, 0, 3, 0)
    elif padding == "bad":
        padding = pick(data, ["SAME", "full", "", "causal"])
    if groups_v == "param":
        groups_v = draw_param(data, 1, 1, 3, 1)
    # spatial sizes: usually big enough for the (dilated) kernel
    try:
        dl = parse_tuple(dilation, nd, 1)
    except Bad:
        dl = (1,) * nd
    sp = []
    for i in range(nd):
        eff = dl[i] * (ksz[i] - 1) + 1
        if eff > 40:
            sp.append(data.draw(st.integers(0, 6)))
        else:
            sp.append(pick(data, [eff + data.draw(st.integers(0, 5)), data.draw(st.integers(0, 6))],
                           [85, 15], bad=(1,)))
    unbatched = pick(data, [False, True], [85, 15])
    C = Cg * gv
    K = Kg * gv
    x_dtype = dtype
    if pick(data, [0, 1], [95, 5], bad=(1,)):
        x_dtype = pick(data, BAD_DTYPES + (np.float64 if dtype == np.float32 else np.float32,))
    huge_x = pick(data, [False, True], [96, 4], bad=(1,))
    if huge_x:
        xv = broadcast_huge(data, x_dtype if x_dtype in FLOAT else np.float32,
                            ([] if unbatched else [max(N, 1)]) + [C], nd)
        x = xv
    else:
        shape = ([] if unbatched else [N]) + [C] + sp
        xv = values(rng, tuple(shape), np.float64).astype(x_dtype)
        x = layout(data, rng, xv)
    w_ndim_bad = pick(data, [0, 1], [96, 4], bad=(1,))
    wshape = (K, Cg) + tuple(ksz)
    if w_ndim_bad:
        wshape = wshape[:-1] if data.draw(st.booleans()) else wshape + (1,)
    wv = values(rng, wshape, dtype)
    use_packed = pick(data, [False, True], [70, 30])
    weight = layout(data, rng, wv) if not use_packed else None
    packed_groups = gv
    if use_packed:
        packed_groups = pick(data, [gv, 1, 2], [80, 10, 10], bad=(1, 2))
        try:
            weight = cconv.pack_weights(wv, packed_groups)
        except DOCUMENTED:
            weight = wv           # fall back to the array
            use_packed = False
    if pick(data, [0, 1], [97, 3], bad=(1,)):
        weight = pick(data, ["weights", None, [[1.0]], 3.0])
    bias = pick(data, [None, "ok", "shape", "dtype"], [45, 45, 5, 5], bad=(2, 3))
    if bias == "ok":
        bias = layout(data, rng, values(rng, (K,), dtype))
    elif bias == "shape":
        bias = values(rng, (K + 1,), dtype)
    elif bias == "dtype":
        bias = values(rng, (K,), np.float64 if dtype == np.float32 else np.float32)
    activation = pick(data, [None, "relu", "gelu", "RELU", 1], [45, 45, 4, 3, 3], bad=(2, 3, 4))
    threads = draw_threads(data)
    res_kind = pick(data, [None, "ok", "view", "shape", "dtype", "is_out"], [55, 20, 8, 5, 4, 8],
                    bad=(3, 4))
    out_kind = pick(data, [None, "ok", "slice", "shape", "dtype", "readonly", "fortran",
                           "selfoverlap", "overlap_x", "list"],
                    [55, 15, 12, 3, 3, 3, 3, 2, 2, 2], bad=range(3, 10))
    case.note(x=x, weight=weight if not isinstance(weight, np.ndarray) else wv, bias=bias,
              stride=stride, padding=padding, dilation=dilation, groups=groups_v,
              activation=activation, residual=res_kind, out=out_kind, num_threads=threads)

    # ---- the oracle
    valid = True
    big = False
    oshape = None
    try:
        xa = np.asarray(x) if not isinstance(x, np.ndarray) else x
        if xa.dtype not in FLOAT:
            raise Bad("x dtype")
        if xa.ndim not in (nd + 1, nd + 2):
            raise Bad("x ndim")
        if isinstance(weight, cconv.PackedWeights):
            wshape_eff, g_eff = weight.shape, weight.groups
            if groups_v is not None and parse_int(groups_v if not isinstance(groups_v, (tuple, list))
                                                  else None, 1) != g_eff:
                raise Bad("groups mismatch")
            if weight.dtype != xa.dtype:
                raise Bad("dtype")
        elif isinstance(weight, np.ndarray) or isinstance(weight, list):
            wa = np.asarray(weight)
            if wa.dtype not in FLOAT:
                raise Bad("w dtype")
            g_eff = 1 if groups_v is None else parse_int(groups_v if not isinstance(
                groups_v, (tuple, list)) else None, 1)
            wshape_eff = wa.shape
            if wa.dtype != xa.dtype:
                raise Bad("dtype")
        else:
            raise Bad("weight type")
        if len(wshape_eff) != nd + 2:
            raise Bad("w ndim")
        xs = xa.shape if xa.ndim == nd + 2 else (1,) + xa.shape
        Nn, Cc = xs[:2]
        KK, CC = wshape_eff[:2]
        if Cc % g_eff or KK % g_eff or CC * g_eff != Cc:
            raise Bad("groups")
        st_ = parse_tuple(stride, nd, 1)
        dl_ = parse_tuple(dilation, nd, 1)
        kk = wshape_eff[2:]
        if isinstance(padding, str):
            if padding == "valid":
                plo = phi = (0,) * nd
            elif padding == "same":
                if any(s != 1 for s in st_):
                    raise Bad("same+stride")
                tot = [d * (k - 1) for d, k in zip(dl_, kk)]
                plo = tuple(t // 2 for t in tot)
                phi = tuple(t - t // 2 for t in tot)
            else:
                raise Bad("padding string")
        else:
            plo = phi = parse_tuple(padding, nd, 0)
        osp = tuple((xs[2 + i] + plo[i] + phi[i] - dl_[i] * (kk[i] - 1) - 1) // st_[i] + 1
                    for i in range(nd))
        if any(o < 1 for o in osp):
            raise Bad("kernel larger than input")
        oshape = (Nn, KK) + osp
        big = (nbytes(oshape, xa.itemsize) > BIG_BYTES or nbytes(xs, xa.itemsize) > BIG_BYTES
               or huge_x or max(oshape) > BIG_BYTES)
        if nbytes(oshape, xa.itemsize) > MAX_BYTES or nbytes(xs, xa.itemsize) > MAX_BYTES:
            raise Bad("too large")
        if activation not in (None, "relu"):
            raise Bad("activation")
        if bias is not None and (np.asarray(bias).dtype != xa.dtype
                                 or np.asarray(bias).shape != (KK,)):
            raise Bad("bias")
        parse_threads(threads)
    except Bad:
        valid = False
    if big:
        res_kind = out_kind = None          # never allocate a huge residual/out here

    # ---- build residual / out (need the output shape; a guess when invalid)
    if oshape is None or big:
        oshape_b = (max(N, 1), max(K, 1)) + tuple(max(s, 1) for s in sp)
    else:
        oshape_b = oshape
    ushape = oshape_b[1:] if unbatched else oshape_b
    residual = out = None
    buf = None
    if res_kind == "ok":
        residual = values(rng, ushape, dtype)
    elif res_kind == "view":
        residual = np.flip(values(rng, ushape, dtype), -1)      # copied by cconv
    elif res_kind == "shape":
        residual = values(rng, ushape[:-1] + (ushape[-1] + 1,), dtype)
    elif res_kind == "dtype":
        residual = values(rng, ushape, np.float64 if dtype == np.float32 else np.float32)
    elif res_kind == "is_out":
        residual = values(rng, ushape, dtype)
        out = residual
    if out is None and out_kind is not None:
        if out_kind == "ok":
            out = np.full(ushape, np.nan, dtype)
        elif out_kind == "slice":
            extra = data.draw(st.integers(1, 3))
            cax = 0 if unbatched else 1
            bshape = list(ushape)
            bshape[cax] += extra
            buf = np.full(bshape, -7.0, dtype)
            c0 = data.draw(st.integers(0, extra))
            sl = [slice(None)] * len(bshape)
            sl[cax] = slice(c0, c0 + ushape[cax])
            out = buf[tuple(sl)]
        elif out_kind == "shape":
            out = np.zeros(ushape[:-1] + (ushape[-1] + 1,), dtype)
        elif out_kind == "dtype":
            out = np.zeros(ushape, np.float64 if dtype == np.float32 else np.float32)
        elif out_kind == "readonly":
            out = np.zeros(ushape, dtype)
            out.flags.writeable = False
        elif out_kind == "fortran":
            out = np.asfortranarray(np.zeros(ushape, dtype))
        elif out_kind == "selfoverlap":
            base = np.zeros(ushape, dtype)
            out = np.lib.stride_tricks.as_strided(base, ushape, (0,) + base.strides[1:])
        elif out_kind == "overlap_x":
            out = x if isinstance(x, np.ndarray) and x.flags.writeable else np.zeros(1, dtype)
        elif out_kind == "list":
            out = [[0.0]]
    # the documented rules for residual and out
    if residual is not None and (residual.dtype != dtype or residual.shape != ushape):
        valid = False
    if out is not None and valid:
        if (not isinstance(out, np.ndarray) or out.dtype != np.dtype(dtype)
                or out.shape != ushape or not out.flags.writeable
                or not spatial_ok(out, nd) or (out.size and self_overlap(out))
                or any(out.size and a.size and np.shares_memory(out, a)
                       for a in (x, weight, bias) if isinstance(a, np.ndarray))):
            valid = False
    res_before = None if residual is None else residual.copy()

    # snapshots of the inputs, to check they are left alone
    snaps = [(a, np.array(a, copy=True)) for a in (x, weight, bias, residual)
             if isinstance(a, np.ndarray) and a is not out and not huge_x]
    buf_before = None if buf is None else buf.copy()

    fn = getattr(cconv, name)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups_v,
                  activation=activation, residual=residual, out=out, num_threads=threads)
    got = oracle_call(case, name, valid, lambda: fn(x, weight, bias, **kwargs), stats,
                      (MemoryError, ValueError) if big else ())
    if got is NO_RESULT:
        return
    if big:
        if got.shape != (oshape[1:] if unbatched else oshape):
            raise AssertionError(f"{case}: shape {got.shape}")
        return
    for a, before in snaps:
        if not same(a, before):
            raise AssertionError(f"{case}: an input was modified")
    if out is not None and got is not out:
        raise AssertionError(f"{case}: did not return `out`")
    if buf is not None:
        mask = np.ones(buf.shape, bool)
        mask[tuple(sl)] = False
        if not np.array_equal(buf[mask], buf_before[mask]):
            raise AssertionError(f"{case}: wrote outside the `out` channel slice")
    # reference in float64
    xr = np.asarray(xv, np.float64)
    if unbatched:
        xr = xr[None]
    wr = np.asarray(wv, np.float64)
    rr = None
    if residual is not None:
        rr = np.asarray(res_before, np.float64)
        if unbatched:
            rr = rr[None]
    br = None if bias is None else np.asarray(bias, np.float64)
    g_ref = g_eff
    if max(plo + phi + dl_ + st_) <= 64:
        pad_arg = padding if isinstance(padding, str) else plo
        ref, absref = conv_ref(xr, wr, br, st_, pad_arg, dl_, g_ref, rr, activation)
        stats["ref:conv_ref"] += 1
    else:
        ref, absref = conv_ref_taps(xr, wr, br, st_, plo, dl_, g_ref, osp, rr, activation)
        stats["ref:taps"] += 1
    if unbatched:
        ref, absref = ref[0], absref[0]
    terms = max(1, CC * int(np.prod(kk)))
    check_result(case, got, ref, absref, terms)


def case_pack(data, rng, stats):
    case = Case("pack_weights")
    STATE["case"] = case
    dtype = pick(data, [np.float32, np.float64, np.int32, np.float16], [45, 45, 5, 5], bad=(2, 3))
    ndim = pick(data, [2, 3, 4, 5, 6], [3, 30, 30, 30, 7], bad=(0, 4))
    shape = tuple(pick(data, [0, 1, 2, 3, 8, 9], [3, 30, 25, 20, 12, 10]) for _ in range(ndim))
    groups = pick(data, [1, 2, 3, "param"], [50, 20, 15, 15])
    if groups == "param":
        groups = draw_param(data, 1, 1, 4, 1)
    huge = pick(data, [False, True], [95, 5])
    if huge:
        shape = list(shape) if shape else [1]
        shape[data.draw(st.integers(0, len(shape) - 1))] = pick(data, [2**31, 2**40, 2**61])
        w = huge_view(dtype, shape)
        shape = w.shape
    else:
        w = values(rng, shape, np.float64).astype(dtype)
    case.note(weight=w, groups=groups)
    valid = True
    big = huge
    try:
        if np.dtype(dtype) not in FLOAT or not 3 <= ndim <= 5:
            raise Bad("dtype/ndim")
        g = parse_int(groups, 1)
        if shape[0] % g:
            raise Bad("groups")
        if nbytes(shape, w.itemsize) > MAX_BYTES:
            raise Bad("too large")
    except Bad:
        valid = False
    pw = oracle_call(case, "pack_weights", valid, lambda: cconv.pack_weights(w, groups), stats,
                     (MemoryError,) if big else ())
    if pw is NO_RESULT:
        return
    if pw.shape != tuple(shape) or pw.dtype != w.dtype or pw.groups != g:
        raise AssertionError(f"{case}: attributes {pw!r}")
    # packed weights give bitwise the same convolution as the array
    nd = ndim - 2
    if not big and shape[0] and all(shape[2:]) and shape[1] * g <= 12:
        x = values(rng, (2, shape[1] * g) + tuple(k + 1 for k in shape[2:]), w.dtype)
        fn = getattr(cconv, f"conv{nd}d")
        if not np.array_equal(fn(x, pw), fn(x, w, groups=g)):
            raise AssertionError(f"{case}: packed and array weights disagree")


def case_pool(data, rng, stats):
    nd = data.draw(st.integers(1, 3))
    kind = pick(data, ["max", "avg"])
    name = f"{kind}_pool{nd}d"
    case = Case(name)
    STATE["case"] = case
    dtype = pick(data, [np.float32, np.float64, np.int32, np.float16], [46, 46, 4, 4], bad=(2, 3))
    N = pick(data, [0, 1, 2], [4, 50, 46])
    C = pick(data, [0, 1, 3], [4, 50, 46])
    ks = draw_param(data, nd, 1, 4, 1)
    stride = pick(data, [None, "param"], [40, 60])
    if stride == "param":
        stride = draw_param(data, nd, 1, 3, 1)
    padding = draw_param(data, nd, 0, 2, 0)
    dilation = draw_param(data, nd, 1, 3, 1) if kind == "max" else 1
    if pick(data, [False, True], [94, 6]):
        # a huge window that is mostly padding: valid, one output per plane
        h = pick(data, [2**20 + 1, 2**31, 2**40, 2**40 + 2])
        ks, padding = h, h // 2
        stride = pick(data, [None, h, 1])
        dilation = 1
    ceil_mode = pick(data, [False, True, 0, 1])
    cip = pick(data, [True, False])
    threads = draw_threads(data)
    try:
        k_ = parse_tuple(ks, nd, 1)
    except Bad:
        k_ = (2,) * nd
    k_ = tuple(min(k, 8) for k in k_)
    sp = tuple(pick(data, [k + data.draw(st.integers(0, 6)), data.draw(st.integers(0, 5))],
                    [85, 15], bad=(1,)) for k in k_)
    unbatched = pick(data, [False, True], [85, 15])
    huge_x = pick(data, [False, True], [97, 3], bad=(1,))
    if huge_x:
        x = broadcast_huge(data, dtype if dtype in FLOAT else np.float32,
                           ([] if unbatched else [max(N, 1)]) + [max(C, 1)], nd)
        xv = None
    else:
        shape = ([] if unbatched else [N]) + [C] + list(sp)
        xv = values(rng, tuple(shape), np.float64, special=(kind == "max")).astype(dtype)
        x = layout(data, rng, xv)
    case.note(x=x, kernel_size=ks, stride=stride, padding=padding, dilation=dilation,
              ceil_mode=ceil_mode, count_include_pad=cip, num_threads=threads)
    valid, big = True, huge_x
    try:
        xa = np.asarray(x)
        if xa.dtype not in FLOAT or xa.ndim not in (nd + 1, nd + 2):
            raise Bad("x")
        kt = parse_tuple(ks, nd, 1)
        stt = kt if stride is None else parse_tuple(stride, nd, 1)
        pt = parse_tuple(padding, nd, 0)
        dt_ = parse_tuple(dilation, nd, 1)
        for i in range(nd):
            eff = dt_[i] * (kt[i] - 1) + 1 if kind == "max" else kt[i]
            if 2 * pt[i] > eff:
                raise Bad("padding")
        spx = xa.shape[-nd:]
        osp = []
        for i in range(nd):
            eff = dt_[i] * (kt[i] - 1) + 1
            num = spx[i] + 2 * pt[i] - eff
            if num < 0:
                raise Bad("kernel larger")
            o = (num + (stt[i] - 1 if ceil_mode else 0)) // stt[i] + 1
            if ceil_mode and (o - 1) * stt[i] >= spx[i] + pt[i]:
                o -= 1
            if o < 1:
                raise Bad("kernel larger")
            osp.append(o)
        if nbytes(xa.shape, xa.itemsize) > MAX_BYTES:
            raise Bad("too large")
        parse_threads(threads)
        lead = xa.shape[:-nd]
        big = (big or nbytes(lead + tuple(osp), xa.itemsize) > BIG_BYTES
               or max(osp) > BIG_BYTES)
    except Bad:
        valid = False
    fn = getattr(cconv, name)
    kw = dict(stride=stride, padding=padding, ceil_mode=ceil_mode, num_threads=threads)
    if kind == "max":
        kw["dilation"] = dilation
    else:
        kw["count_include_pad"] = cip
    snap = None if huge_x or not isinstance(x, np.ndarray) else x.copy()
    got = oracle_call(case, name, valid, lambda: fn(x, ks, **kw), stats,
                      (MemoryError, ValueError) if big else ())
    if got is NO_RESULT:
        return
    if big:
        return
    if snap is not None and not same(x, snap):
        raise AssertionError(f"{case}: input modified")
    xr = np.asarray(xv, np.float64)
    if unbatched:
        xr = xr[None]
    ref = pool_ref_any(xr, kind, kt, stt, pt, dt_, bool(ceil_mode), cip)
    if unbatched:
        ref = ref[0]
    if kind == "max":
        check_result(case, got, ref, exact=True)
    else:
        absref = pool_ref_any(np.abs(xr), kind, kt, stt, pt, dt_, bool(ceil_mode), cip)
        if unbatched:
            absref = absref[0]
        check_result(case, got, ref, absref, int(np.prod([min(k, 64) for k in kt])) + 1)


def case_global(data, rng, stats):
    kind = pick(data, ["max", "avg"])
    name = f"global_{kind}_pool2d"
    case = Case(name)
    STATE["case"] = case
    dtype = pick(data, [np.float32, np.float64, np.int64], [46, 46, 8], bad=(2,))
    ndim = pick(data, [2, 3, 4, 5], [5, 20, 70, 5], bad=(0, 3))
    shape = tuple(pick(data, [0, 1, 2, 5, 7], [4, 30, 30, 20, 16]) for _ in range(ndim))
    xv = values(rng, shape, np.float64, special=(kind == "max")).astype(dtype)
    x = layout(data, rng, xv)
    threads = draw_threads(data)
    case.note(x=x, num_threads=threads)
    valid = True
    try:
        if np.dtype(dtype) not in FLOAT or ndim not in (3, 4) or 0 in shape[-2:]:
            raise Bad("x")
        parse_threads(threads)
    except Bad:
        valid = False
    got = oracle_call(case, name, valid, lambda: getattr(cconv, name)(x, num_threads=threads),
                      stats)
    if got is NO_RESULT:
        return
    x64 = np.asarray(xv, np.float64)
    if kind == "max":
        ref = np.max(x64, axis=(-2, -1), keepdims=True)
        check_result(case, got, ref, exact=True)
    else:
        ref = np.mean(x64, axis=(-2, -1), keepdims=True)
        absref = np.mean(np.abs(x64), axis=(-2, -1), keepdims=True)
        check_result(case, got, ref, absref, shape[-1] * shape[-2])


def case_relu(data, rng, stats):
    case = Case("relu")
    STATE["case"] = case
    dtype = pick(data, [np.float32, np.float64, np.int32, np.complex64], [46, 46, 4, 4],
                 bad=(2, 3))
    ndim = data.draw(st.integers(0, 5))
    shape = tuple(pick(data, [0, 1, 2, 3, 17], [3, 30, 30, 20, 17]) for _ in range(ndim))
    xv = values(rng, shape, np.float64, special=True).astype(dtype)
    x = layout(data, rng, xv)
    out_kind = pick(data, [None, "fresh", "inplace", "strided", "overlap", "shape", "dtype",
                           "readonly", "list"], [40, 15, 15, 8, 6, 4, 4, 4, 4],
                   bad=(5, 6, 7, 8))
    threads = draw_threads(data)
    out = None
    xa = np.asarray(x)
    if out_kind == "fresh":
        out = np.full(shape, np.nan, dtype if dtype in FLOAT else np.float32)
    elif out_kind == "inplace":
        out = x if isinstance(x, np.ndarray) and x.flags.writeable else xa.copy()
        x = out
    elif out_kind == "strided":
        out = np.full(shape + (2,), 5, dtype if dtype in FLOAT else np.float32)[..., 0]
    elif out_kind == "overlap":
        if xa.ndim and xa.shape[-1] > 1 and xa.flags.writeable:
            base = np.concatenate([xa.reshape(-1), xa.reshape(-1)[:1]])
            x = base[:-1].reshape(xa.shape)
            out = base[1:].reshape(xa.shape)
            xv = x.copy()
        else:
            out = np.zeros(shape, dtype if dtype in FLOAT else np.float32)
    elif out_kind == "shape":
        out = np.zeros(shape + (1,), dtype if dtype in FLOAT else np.float32)
    elif out_kind == "dtype":
        out = np.zeros(shape, np.float64 if dtype == np.float32 else np.float32)
    elif out_kind == "readonly":
        out = np.zeros(shape, dtype if dtype in FLOAT else np.float32)
        out.flags.writeable = False
    elif out_kind == "list":
        out = [0.0]
    case.note(x=x, out=out_kind, num_threads=threads)
    xv = np.array(np.asarray(x), copy=True)
    valid = True
    try:
        xa = np.asarray(x)
        if xa.dtype not in FLOAT:
            raise Bad("dtype")
        if out is not None:
            if not isinstance(out, np.ndarray) or out.dtype != xa.dtype or out.shape != xa.shape:
                raise Bad("out")
            if not out.flags.writeable:
                raise Bad("out ro")
        parse_threads(threads)
    except Bad:
        valid = False
    got = oracle_call(case, "relu", valid, lambda: cconv.relu(x, out=out, num_threads=threads),
                      stats)
    if got is NO_RESULT:
        return
    if out is not None and got is not out:
        raise AssertionError(f"{case}: did not return out")
    ref = np.where(xv < 0, 0, xv).astype(np.float64)
    check_result(case, got, ref, exact=True)
    if out is None and out_kind != "inplace" and not same(x, xv):
        raise AssertionError(f"{case}: input modified")


def chain_ref(x, ws, bs, acts):
    """float64 chain of 1x1 convolutions and its chained magnitude (see tests/test_chain.py)."""
    h = np.asarray(x, np.float64)
    a = np.abs(h)
    for w, b, act in zip(ws, bs, acts):
        w2 = np.asarray(w, np.float64)[:, :, 0, 0]
        h = np.einsum("kc,nchw->nkhw", w2, h)
        a = np.einsum("kc,nchw->nkhw", np.abs(w2), a)
        if b is not None:
            h = h + np.asarray(b, np.float64)[None, :, None, None]
            a = a + np.abs(np.asarray(b, np.float64))[None, :, None, None]
        if act == "relu":
            h = np.where(h < 0, 0, h)
    return h, a


def case_chain(data, rng, stats):
    case = Case("conv1x1_chain")
    STATE["case"] = case
    dtype = pick(data, [np.float32, np.float64, np.int32], [47, 47, 6], bad=(2,))
    unbatched = pick(data, [False, True], [85, 15])
    N = pick(data, [0, 1, 2, 3], [5, 50, 30, 15])
    H, W = (pick(data, [0, 1, 2, 5, 9, 13], [3, 15, 20, 25, 20, 17]) for _ in range(2))
    nl = pick(data, [0, 1, 2, 3, 9, 10], [3, 30, 35, 20, 6, 6], bad=(0,))
    chans = [pick(data, [0, 1, 3, 7, 16, 33], [3, 15, 30, 25, 17, 10]) for _ in range(nl + 1)]
    xdt = np.float64 if (dtype == np.int32) else dtype
    x = layout(data, rng, values(rng, ((N,) if not unbatched else ()) + (chans[0], H, W), xdt)
               .astype(dtype))
    ws, raw, bs, acts = [], [], [], []
    problems = []
    for i in range(nl):
        kind = pick(data, ["raw", "packed", "kxk", "mismatch", "dtype", "groups"],
                    [45, 40, 3, 4, 4, 4], bad=(2, 3, 4, 5))
        k, c = chans[i + 1], chans[i]
        wdt = dtype if dtype in FLOAT else np.float32
        if kind == "dtype":
            wdt = np.float64 if wdt == np.float32 else np.float32
        shape = (k, c + (1 if kind == "mismatch" else 0)) + ((3, 3) if kind == "kxk" else (1, 1))
        w = (values(rng, shape, np.float64) / np.sqrt(max(c, 1))).astype(wdt)
        raw.append(w)
        if kind == "groups":      # a valid packing, but a chain takes groups=1 only
            w = cconv.pack_weights(np.ones((2, max(c, 1), 1, 1), wdt), groups=2)
        elif kind == "packed":
            w = cconv.pack_weights(w)
        if kind != "raw" and kind != "packed":
            problems.append(kind)
        ws.append(w)
        bkind = pick(data, ["none", "ok", "shape"], [40, 55, 5], bad=(2,))
        bs.append(None if bkind == "none" else
                  values(rng, (k + (1 if bkind == "shape" else 0),), np.float64).astype(wdt))
        if bkind == "shape":
            problems.append("bias")
    bias_arg = pick(data, ["list", "none", "short", "array"], [80, 12, 4, 4], bad=(2, 3))
    if bias_arg == "none":
        problems = [q for q in problems if q != "bias"]
        bs = [None] * nl
    biases = {"list": bs, "none": None, "short": bs[:-1], "array": np.zeros(3)}[bias_arg]
    act_kind = pick(data, ["none", "relu", "list", "bad", "short"], [30, 40, 22, 4, 4], bad=(3, 4))
    acts = [pick(data, [None, "relu"]) for _ in range(nl)]
    activation = {"none": None, "relu": "relu", "list": acts, "bad": "tanh",
                  "short": acts[:-1] + ["x"] if nl > 1 else ["relu", "relu"]}[act_kind]
    out_kind = pick(data, [None, "fresh", "slice", "shape", "overlap"], [55, 20, 15, 5, 5],
                    bad=(3, 4))
    K = chans[nl] if nl else 1
    oshape = ((N,) if not unbatched else ()) + (K, H, W)
    out = None
    odt = dtype if dtype in FLOAT else np.float32
    if out_kind == "fresh":
        out = np.full(oshape, np.nan, odt)
    elif out_kind == "slice":
        big = np.full(oshape[:-3] + (K + 4,) + oshape[-2:], 7.0, odt)
        out = big[..., 2:2 + K, :, :]
    elif out_kind == "shape":
        out = np.zeros(oshape[:-1] + (W + 1,), odt)
    elif out_kind == "overlap":   # x itself (the right shape when K == C)
        out = x if isinstance(x, np.ndarray) else np.zeros(oshape[:-1] + (W + 1,), odt)
    threads = draw_threads(data)
    case.note(x=x, chans=chans, problems=problems, biases=bias_arg, activation=activation,
              out=out_kind, num_threads=threads)
    xv = np.array(np.asarray(x), copy=True)
    valid = True
    try:
        if dtype not in FLOAT or nl == 0 or problems or bias_arg in ("short", "array"):
            raise Bad("args")
        if act_kind in ("bad", "short"):
            raise Bad("activation")
        if H < 1 or W < 1:
            raise Bad("empty image")
        if out is not None:
            if out.dtype != odt or out.shape != oshape:
                raise Bad("out shape")
            if not out.flags.writeable:
                raise Bad("out read-only")
            if out_kind == "overlap" and out.size:
                raise Bad("out overlaps x")
        parse_threads(threads)
    except Bad:
        valid = False
    got = oracle_call(case, "conv1x1_chain", valid,
                      lambda: cconv.conv1x1_chain(x, ws, biases, activation=activation, out=out,
                                                  num_threads=threads), stats)
    if got is NO_RESULT:
        return
    if out is not None and got is not out:
        raise AssertionError(f"{case}: did not return out")
    al = activation if isinstance(activation, list) else [activation] * nl
    ref, absref = chain_ref(xv if not unbatched else xv[None], raw, bs, al)
    if unbatched:
        ref, absref = ref[0], absref[0]
    check_result(case, got, ref, absref, sum(chans[:-1]) + 2 * max(nl - 1, 0))
    if out_kind == "slice" and not ((big[..., :2, :, :] == 7).all() and (big[..., 2 + K:, :, :] == 7).all()):
        raise AssertionError(f"{case}: wrote outside the out slice")
    if not same(x, xv):
        raise AssertionError(f"{case}: input modified")


CASES = [(case_conv, 40), (case_pack, 8), (case_pool, 32), (case_global, 8), (case_relu, 12),
         (case_chain, 12)]


def one_case(data, stats):
    # a hang is a failure: dump every thread's stack and exit
    faulthandler.dump_traceback_later(STATE["case_timeout"], exit=True)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    STATE["clean"] = data.draw(st.booleans())     # half the cases: valid choices only
    fn = pick(data, [c for c, _ in CASES], [w for _, w in CASES])
    STATE["case"] = None
    try:
        fn(data, rng, stats)
        stats["cases"] += 1        # completed (Hypothesis may discard a case mid-draw)
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001 - a driver error: report it with the case
        import traceback
        raise AssertionError(f"{STATE['case']}: driver error {type(e).__name__}: {e}\n"
                             + traceback.format_exc()) from None


def limit_memory(extra_gib):
    """Cap the address space so a valid-but-huge call fails with MemoryError
    instead of swapping (not under AddressSanitizer, which reserves terabytes)."""
    if "asan" in os.environ.get("LD_PRELOAD", "") or sys.platform != "linux":
        return False
    import resource
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    lim = vm + int(extra_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (lim, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mem-gib", type=float, default=3.0,
                    help="address space allowed above the start-up size (Linux)")
    ap.add_argument("--case-timeout", type=float, default=60.0,
                    help="seconds one case may take before it counts as a hang")
    args = ap.parse_args(argv)
    STATE["case_timeout"] = args.case_timeout
    limited = limit_memory(args.mem_gib)
    np.seterr(all="ignore")
    stats = Counter()
    t0 = time.perf_counter()
    chunk_no = 0
    while stats["cases"] < args.cases:
        want = min(args.cases - stats["cases"], 500)

        @seed(args.seed * 1_000_003 + chunk_no)
        @settings(max_examples=want, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), derandomize=False)
        @given(st.data())
        def run(data):
            one_case(data, stats)

        before = stats["cases"]
        try:
            run()
        except Exception as e:  # noqa: BLE001 - report any failure with the case
            print(f"FUZZ FAILURE after {stats['cases']} cases (seed {args.seed}):\n{e}",
                  file=sys.stderr)
            return 1
        if stats["cases"] == before:
            break
        chunk_no += 1
    report = {"cases": stats["cases"], "seconds": round(time.perf_counter() - t0, 2),
              "rlimit": limited, "isa": cconv._core.isa(), "counts": dict(sorted(stats.items()))}
    print(json.dumps(report))
    return 0 if stats["cases"] >= args.cases else 1


if __name__ == "__main__":
    sys.exit(main())

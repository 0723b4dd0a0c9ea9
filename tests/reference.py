"""Float64 references for the tests, from SciPy and NumPy only (never cconv),
the float32/float64 error bound the comparisons use, and small test helpers
(the kernel sets to run, inputs at a chosen cache-line offset)."""
from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage, signal


def _pads(spatial, ks, stride, padding, dilation):
    nd = len(spatial)
    if padding == "valid":
        return [(0, 0)] * nd
    if padding == "same":
        tot = [d * (k - 1) for d, k in zip(dilation, ks)]
        return [(t // 2, t - t // 2) for t in tot]
    return [(p, p) for p in padding]


def _dilate_kernel(w, dilation):
    """Insert zeros between kernel taps: a dilated kernel as a plain one."""
    ks = w.shape
    out = np.zeros(tuple(d * (k - 1) + 1 for k, d in zip(ks, dilation)), dtype=w.dtype)
    out[tuple(slice(None, None, d) for d in dilation)] = w
    return out


def conv_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, residual=None,
             activation=None):
    """N-d cross-correlation in float64 with scipy.signal.correlate.

    x (N, C, *sp), w (K, C/groups, *ks).  Returns (y, absy) where absy is the
    same computation on |x|, |w|, |b|, |residual| (for the error bound)."""
    nd = x.ndim - 2
    st = (stride,) * nd if np.isscalar(stride) else tuple(stride)
    dl = (dilation,) * nd if np.isscalar(dilation) else tuple(dilation)
    pd = padding if isinstance(padding, str) else ((padding,) * nd if np.isscalar(padding)
                                                    else tuple(padding))
    ks = w.shape[2:]
    pads = _pads(x.shape[2:], ks, st, pd, dl)

    def run(xx, ww, bb, rr):
        xx = np.pad(xx.astype(np.float64), [(0, 0), (0, 0)] + pads)
        N, C = xx.shape[:2]
        K, Cg = ww.shape[:2]
        Kg = K // groups
        osp = [(xx.shape[2 + i] - dl[i] * (ks[i] - 1) - 1) // st[i] + 1 for i in range(nd)]
        y = np.zeros((N, K) + tuple(osp))
        sl = tuple(slice(0, o * s, s) for o, s in zip(osp, st))
        for n in range(N):
            for k in range(K):
                g = k // Kg
                acc = None
                for c in range(Cg):
                    kern = _dilate_kernel(ww[k, c].astype(np.float64), dl)
                    v = signal.correlate(xx[n, g * Cg + c], kern, mode="valid", method="direct")
                    acc = v if acc is None else acc + v
                if acc is not None:
                    y[n, k] = acc[sl]
        if bb is not None:
            y += bb.astype(np.float64).reshape((1, -1) + (1,) * nd)
        if rr is not None:
            y += rr.astype(np.float64)
        return y

    y = run(x, w, b, residual)
    if activation == "relu":
        y = np.maximum(y, 0)
    absy = run(np.abs(x), np.abs(w), None if b is None else np.abs(b),
               None if residual is None else np.abs(residual))
    return y, absy


def conv_ref_fast(x, w, b=None, stride=1, padding=0):
    """2-D, groups=1 float64 reference by NumPy tensordot over sliding windows,
    for the large suite shapes (cross-checked against conv_ref in the tests)."""
    R, S = w.shape[2:]
    xx = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    win = np.lib.stride_tricks.sliding_window_view(xx, (R, S), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]                    # N C Ho Wo R S
    w64 = w.astype(np.float64)
    y = np.einsum("nchwrs,kcrs->nkhw", win, w64, optimize=True)
    absy = np.einsum("nchwrs,kcrs->nkhw", np.abs(win), np.abs(w64), optimize=True)
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
        absy += np.abs(b.astype(np.float64))[None, :, None, None]
    return y, absy


def assert_close(y, ref, absref, terms):
    """|y - ref| <= (terms + 2) * eps(y.dtype) * absref elementwise: the
    standard bound for a float sum of `terms` products, plus bias/residual."""
    eps = np.finfo(y.dtype).eps
    if y.dtype == np.float64:
        eps *= 2   # the float64 reference has rounding errors of its own
    tol = (terms + 2) * eps * absref + np.finfo(y.dtype).tiny
    err = np.abs(y.astype(np.float64) - ref)
    bad = ~(err <= tol)
    assert not bad.any(), (
        f"{bad.sum()} of {y.size} outputs outside the error bound; worst error "
        f"{err[bad].max():.3g} vs bound {tol[bad].min():.3g}")


def pool_ref(x, kind, ks, stride, padding, dilation=None, ceil_mode=False,
             count_include_pad=True):
    """N-d max/avg pooling in float64 with NumPy, PyTorch's rules."""
    nd = x.ndim - 2
    dilation = dilation or (1,) * nd
    sp = x.shape[2:]
    osp = []
    for i in range(nd):
        eff = dilation[i] * (ks[i] - 1) + 1
        num = sp[i] + 2 * padding[i] - eff
        o = (num + (stride[i] - 1 if ceil_mode else 0)) // stride[i] + 1
        if ceil_mode and (o - 1) * stride[i] >= sp[i] + padding[i]:
            o -= 1
        osp.append(o)
    x64 = x.astype(np.float64)
    y = np.empty(x.shape[:2] + tuple(osp))
    for idx in itertools.product(*[range(o) for o in osp]):
        st = [idx[i] * stride[i] - padding[i] for i in range(nd)]
        if kind == "max":
            taps = [[st[i] + j * dilation[i] for j in range(ks[i])
                     if 0 <= st[i] + j * dilation[i] < sp[i]] for i in range(nd)]
            win = x64[(slice(None), slice(None)) + np.ix_(*taps)]
            win = win.reshape(win.shape[:2] + (int(np.prod(win.shape[2:])),))
            v = win.max(axis=-1, initial=-np.inf)
            v[np.isnan(win).any(axis=-1)] = np.nan
        else:
            en = [min(st[i] + ks[i], sp[i] + padding[i]) for i in range(nd)]
            size = int(np.prod([en[i] - st[i] for i in range(nd)]))
            lo = [max(s, 0) for s in st]
            hi = [min(e, s) for e, s in zip(en, sp)]
            win = x64[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in zip(lo, hi))]
            cnt = int(np.prod([b - a for a, b in zip(lo, hi)]))
            v = win.reshape(win.shape[:2] + (cnt,)).sum(axis=-1) / (size if count_include_pad
                                                                     else cnt)
        y[(slice(None), slice(None)) + idx] = v
    return y


def max_filter_ref(x2d, k):
    """scipy.ndimage cross-check of an unpadded stride-1 2-D max pool."""
    full = ndimage.maximum_filter(x2d.astype(np.float64), size=(1, 1, k, k), mode="nearest")
    h = k // 2
    return full[:, :, h:x2d.shape[2] - (k - 1 - h), h:x2d.shape[3] - (k - 1 - h)]


def kernel_isas():
    """The kernel sets this machine can run: tests run each one in-process."""
    import cconv
    isas = ["portable"]
    if cconv._core.cpu_has_avx2():
        isas.append("avx2")
    if cconv._core.cpu_has_avx512():
        isas.append("avx512")
    return isas


def at_offset(a, off):
    """A C-contiguous copy of ``a`` whose data starts ``off`` bytes past a
    64-byte boundary (NumPy alone gives 16)."""
    a = np.asarray(a)
    buf = np.empty(a.nbytes + 128, np.uint8)
    start = (-buf.ctypes.data) % 64 + off
    v = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    v[...] = a
    assert v.ctypes.data % 64 == off
    return v


def run_conv_case(rng, isa, dtype, N, C, sp, K, ks, stride=1, pad=0, dil=1, groups=1,
                  bias=True, act=None, residual=False, threads=None):
    """One convolution on random data with the weights packed for kernel set
    ``isa``, optionally with bias, residual and ReLU fused, checked against
    conv_ref within the error bound; returns the output."""
    import cconv

    nd = len(sp)
    x = rng.standard_normal((N, C) + tuple(sp)).astype(dtype)
    w = rng.standard_normal((K, C // groups) + tuple(ks)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if bias else None
    ref, absref = conv_ref(x, w, b, stride, pad, dil, groups)
    r = rng.standard_normal(ref.shape).astype(dtype) if residual else None
    if r is not None:
        ref, absref = ref + r, absref + np.abs(r)
    if act == "relu":
        ref = np.maximum(ref, 0)
    pw = cconv.pack_weights(w, groups, _isa=isa)
    conv = {1: cconv.conv1d, 2: cconv.conv2d, 3: cconv.conv3d}[nd]
    y = conv(x, pw, b, stride=stride, padding=pad, dilation=dil, groups=groups,
             activation=act, residual=r, num_threads=threads)
    assert y.shape == ref.shape and y.dtype == dtype
    assert_close(y, ref, absref, (C // groups) * int(np.prod(ks)))
    return y

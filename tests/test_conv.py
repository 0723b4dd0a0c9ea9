"""Convolution against the float64 SciPy reference, over every parameter."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cconv
from reference import assert_close, conv_ref, conv_ref_fast, kernel_isas

CONV = {1: cconv.conv1d, 2: cconv.conv2d, 3: cconv.conv3d}
ISAS = kernel_isas()


@st.composite
def conv_case(draw):
    nd = draw(st.sampled_from([1, 2, 2, 2, 3]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 4))
    kg = draw(st.integers(1, 5))
    if draw(st.booleans()) and groups > 1:
        cg = 1  # depthwise, channel multiplier kg
    ks = tuple(draw(st.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    dil = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(["int", "tuple", "valid", "same"]))
    if mode == "same":
        stride = (1,) * nd
        pad = "same"
    else:
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        pad = "valid" if mode == "valid" else tuple(draw(st.integers(0, 3)) for _ in range(nd))
        if mode == "int":
            pad = pad[0] if nd == 1 else pad
    sp = []
    for i in range(nd):
        eff = dil[i] * (ks[i] - 1) + 1
        p = 0 if isinstance(pad, str) else (pad if isinstance(pad, int) else pad[i])
        lo = max(1, eff - 2 * p)
        sp.append(draw(st.integers(lo, lo + (9 if nd < 3 else 4))))
    n = draw(st.sampled_from([0, 1, 1, 3]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return dict(nd=nd, groups=groups, cg=cg, kg=kg, ks=ks, dil=dil, stride=stride, pad=pad,
                sp=tuple(sp), n=n, dtype=dtype, bias=draw(st.booleans()),
                act=draw(st.sampled_from([None, "relu"])), residual=draw(st.booleans()),
                isa=draw(st.sampled_from(ISAS)), seed=draw(st.integers(0, 2**31)))


@given(conv_case())
def test_conv_matches_scipy(c):
    rng = np.random.default_rng(c["seed"])
    C, K = c["cg"] * c["groups"], c["kg"] * c["groups"]
    x = rng.standard_normal((c["n"], C) + c["sp"]).astype(c["dtype"])
    w = rng.standard_normal((K, c["cg"]) + c["ks"]).astype(c["dtype"])
    b = rng.standard_normal(K).astype(c["dtype"]) if c["bias"] else None
    ref, absref = conv_ref(x, w, b, c["stride"], c["pad"], c["dil"], c["groups"])
    r = rng.standard_normal(ref.shape).astype(c["dtype"]) if c["residual"] else None
    if r is not None:
        ref, absref = ref + r, absref + np.abs(r)
    if c["act"] == "relu":
        ref = np.maximum(ref, 0)
    pw = cconv.pack_weights(w, c["groups"], _isa=c["isa"])
    y = CONV[c["nd"]](x, pw, b, stride=c["stride"], padding=c["pad"], dilation=c["dil"],
                      groups=c["groups"], activation=c["act"], residual=r)
    assert y.shape == ref.shape and y.dtype == c["dtype"]
    assert_close(y, ref, absref, c["cg"] * int(np.prod(c["ks"])))


def test_references_agree(rng):
    """The fast einsum reference used for big shapes equals the SciPy one."""
    x = rng.standard_normal((2, 5, 9, 11))
    w = rng.standard_normal((4, 5, 3, 3))
    b = rng.standard_normal(4)
    for stride, pad in [(1, 0), (2, 1), (1, 2)]:
        a, _ = conv_ref(x, w, b, stride, pad)
        f, _ = conv_ref_fast(x, w, b, stride, pad)
        np.testing.assert_allclose(a, f, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", cconv.suite.LAYERS, ids=lambda s: s.name)
def test_suite_shapes(shape, isa):
    rng = np.random.default_rng(7)
    N = min(shape.N, 2)  # the batch-8 shapes: batch 2 covers the batch loop
    x = rng.standard_normal((N,) + shape.x_shape[1:]).astype(np.float32)
    w = (rng.standard_normal(shape.w_shape) / np.sqrt(shape.C * shape.kernel ** 2)).astype(np.float32)
    b = rng.standard_normal(shape.K).astype(np.float32)
    ref, absref = conv_ref_fast(x, w, b, shape.stride, shape.pad)
    pw = cconv.pack_weights(w, _isa=isa)
    y = cconv.conv2d(x, pw, b, stride=shape.stride, padding=shape.pad)
    assert_close(y, ref, absref, shape.C * shape.kernel ** 2)
    y2 = cconv.conv2d(x, pw, b, stride=shape.stride, padding=shape.pad, activation="relu")
    np.testing.assert_array_equal(y2, np.maximum(y, 0))


def test_unbatched_and_views(rng):
    x = rng.standard_normal((3, 8, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    ref, absref = conv_ref(x[None], w, padding=1)
    y = cconv.conv2d(x, w, padding=1)
    assert y.shape == (4, 8, 9)
    assert_close(y, ref[0], absref[0], 27)
    # non-contiguous, negative-stride, read-only inputs are copied as needed
    xv = np.ascontiguousarray(x[:, ::-1, :])[:, ::-1, :]
    xr = x.copy()
    xr.flags.writeable = False
    wt = np.asfortranarray(w)
    for xi in (xv, xr):
        np.testing.assert_array_equal(cconv.conv2d(xi, wt, padding=1), y)
    xs = np.repeat(x, 2, axis=2)[:, :, ::2]
    np.testing.assert_array_equal(cconv.conv2d(xs, w, padding=1), y)


def test_out_channel_slice(rng):
    x = rng.standard_normal((2, 6, 7, 7)).astype(np.float32)
    w1 = rng.standard_normal((3, 6, 1, 1)).astype(np.float32)
    w2 = rng.standard_normal((5, 6, 3, 3)).astype(np.float32)
    buf = np.full((2, 10, 7, 7), np.nan, dtype=np.float32)
    r1 = cconv.conv2d(x, w1, out=buf[:, 1:4])
    r2 = cconv.conv2d(x, w2, padding=1, activation="relu", out=buf[:, 4:9])
    assert r1.base is buf and r2.base is buf
    np.testing.assert_array_equal(buf[:, 1:4], cconv.conv2d(x, w1))
    np.testing.assert_array_equal(buf[:, 4:9], cconv.conv2d(x, w2, padding=1, activation="relu"))
    assert np.isnan(buf[:, 0]).all() and np.isnan(buf[:, 9]).all()


def test_residual_in_place(rng):
    x = rng.standard_normal((1, 4, 5, 5))
    w = rng.standard_normal((4, 4, 3, 3))
    r = rng.standard_normal((1, 4, 5, 5))
    expect = cconv.conv2d(x, w, padding=1, residual=r.copy(), activation="relu")
    y = cconv.conv2d(x, w, padding=1, residual=r, out=r, activation="relu")
    assert y is r
    np.testing.assert_array_equal(r, expect)
    ref, absref = conv_ref(x, w, padding=1)
    rr = np.maximum(ref + (r - r), 0)  # shape check only
    assert rr.shape == expect.shape


def test_zero_sizes(rng):
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = cconv.conv2d(np.zeros((0, 3, 5, 5), np.float32), w)
    assert y.shape == (0, 4, 3, 3) and y.dtype == np.float32
    # no input channels: the output is the bias
    b = rng.standard_normal(4).astype(np.float32)
    y = cconv.conv2d(np.zeros((1, 0, 5, 5), np.float32), np.zeros((4, 0, 3, 3), np.float32), b)
    np.testing.assert_array_equal(y, np.broadcast_to(b[None, :, None, None], (1, 4, 3, 3)))
    y = cconv.conv2d(np.zeros((1, 3, 5, 5), np.float32), np.zeros((0, 3, 3, 3), np.float32))
    assert y.shape == (1, 0, 3, 3)


def test_nan_inf_propagate():
    x = np.ones((1, 2, 4, 4), np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 3, 3] = np.inf
    w = np.ones((1, 2, 1, 1), np.float32)
    y = cconv.conv2d(x, w)
    assert np.isnan(y[0, 0, 1, 1]) and np.isposinf(y[0, 0, 3, 3])
    assert np.isfinite(np.delete(y.ravel(), [5, 15])).all()
    y = cconv.conv2d(x, w, activation="relu")
    assert np.isnan(y[0, 0, 1, 1])
    y = cconv.conv2d(x, -w, activation="relu")
    assert y[0, 0, 3, 3] == 0


@pytest.mark.parametrize("isa", ISAS)
def test_threads_bitwise_equal(rng, isa):
    for shape in [(2, 16, 23, 19, 24, 3, 1, 1), (1, 40, 14, 14, 33, 1, 1, 0),
                  (3, 8, 17, 17, 16, 5, 2, 2)]:
        N, C, H, W, K, k, s, p = shape
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = rng.standard_normal((K, C, k, k)).astype(np.float32)
        pw = cconv.pack_weights(w, _isa=isa)
        ys = [cconv.conv2d(x, pw, stride=s, padding=p, num_threads=t) for t in (1, 2, 3)]
        for y in ys[1:]:
            np.testing.assert_array_equal(ys[0], y)


def test_packed_weights_object(rng):
    w = rng.standard_normal((8, 2, 3, 3)).astype(np.float32)
    pw = cconv.pack_weights(w, groups=2)
    assert pw.shape == w.shape and pw.dtype == np.float32 and pw.groups == 2
    assert pw.isa == cconv._core.isa() and pw.nbytes > 0
    assert "PackedWeights" in repr(pw)
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(cconv.conv2d(x, pw), cconv.conv2d(x, w, groups=2))
    with pytest.raises(ValueError, match="groups"):
        cconv.conv2d(x, pw, groups=1)
    with pytest.raises(TypeError, match="dtype"):
        cconv.conv2d(x.astype(np.float64), pw)
    with pytest.raises(TypeError, match="pickled"):
        import pickle
        pickle.dumps(pw)

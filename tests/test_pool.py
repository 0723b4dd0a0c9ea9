"""Pooling and ReLU against NumPy/SciPy float64 references."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cconv
from reference import max_filter_ref, pool_ref

MAX = {1: cconv.max_pool1d, 2: cconv.max_pool2d, 3: cconv.max_pool3d}
AVG = {1: cconv.avg_pool1d, 2: cconv.avg_pool2d, 3: cconv.avg_pool3d}


@st.composite
def pool_case(draw):
    nd = draw(st.sampled_from([1, 2, 3]))
    kind = draw(st.sampled_from(["max", "avg"]))
    ks = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dil = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if kind == "max" else (1,) * nd
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    pad = tuple(draw(st.integers(0, (d * (k - 1) + 1 if kind == "max" else k) // 2))
                for k, d in zip(ks, dil))
    sp = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 9))
               for k, d, p in zip(ks, dil, pad))
    return dict(nd=nd, kind=kind, ks=ks, dil=dil, stride=stride, pad=pad, sp=sp,
                ceil=draw(st.booleans()), cip=draw(st.booleans()),
                n=draw(st.sampled_from([0, 1, 2])),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                stride_none=draw(st.booleans()), seed=draw(st.integers(0, 2**31)))


@given(pool_case())
def test_pool_matches_reference(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((c["n"], 3) + c["sp"]).astype(c["dtype"])
    stride = None if c["stride_none"] else c["stride"]
    eff_stride = c["ks"] if stride is None else stride
    ref = pool_ref(x, c["kind"], c["ks"], eff_stride, c["pad"], c["dil"], c["ceil"], c["cip"])
    if c["kind"] == "max":
        y = MAX[c["nd"]](x, c["ks"], stride, c["pad"], c["dil"], c["ceil"])
        np.testing.assert_array_equal(y, ref.astype(c["dtype"]))
    else:
        y = AVG[c["nd"]](x, c["ks"], stride, c["pad"], c["ceil"], c["cip"])
        eps = np.finfo(c["dtype"]).eps
        tol = (np.prod(c["ks"]) + 1) * eps * pool_ref(np.abs(x), "avg", c["ks"], eff_stride,
                                                    c["pad"], None, c["ceil"], c["cip"])
        assert y.shape == ref.shape
        assert (np.abs(y - ref) <= tol + np.finfo(c["dtype"]).tiny).all()


def test_max_pool_matches_scipy_filter(rng):
    x = rng.standard_normal((2, 3, 12, 10)).astype(np.float32)
    np.testing.assert_array_equal(cconv.max_pool2d(x, 3, stride=1), max_filter_ref(x, 3))


def test_pool_nan_and_unbatched():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4)
    x[0, 0, 0] = np.nan
    y = cconv.max_pool2d(x, 2)
    assert y.shape == (1, 2, 2) and np.isnan(y[0, 0, 0]) and y[0, 1, 1] == 15
    assert np.isnan(cconv.avg_pool2d(x, 2)[0, 0, 0])


def test_global_pools(rng):
    x = rng.standard_normal((2, 5, 7, 6))
    np.testing.assert_allclose(cconv.global_avg_pool2d(x), x.mean(axis=(2, 3), keepdims=True),
                               rtol=1e-13)
    np.testing.assert_array_equal(cconv.global_max_pool2d(x), x.max(axis=(2, 3), keepdims=True))
    assert cconv.global_avg_pool2d(x[0]).shape == (5, 1, 1)
    with pytest.raises(ValueError, match="x must have"):
        cconv.global_avg_pool2d(x[0, 0])


def test_pool_threads_bitwise(rng):
    x = rng.standard_normal((4, 16, 33, 31)).astype(np.float32)
    for f in (lambda t: cconv.max_pool2d(x, 3, 2, 1, num_threads=t),
              lambda t: cconv.avg_pool2d(x, 3, 2, 1, ceil_mode=True, num_threads=t)):
        np.testing.assert_array_equal(f(1), f(2))


def test_relu(rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x[0, 0, 0] = np.nan
    y = cconv.relu(x)
    ref = np.where(x < 0, 0, x)
    np.testing.assert_array_equal(y, ref)
    out = np.empty_like(x)
    assert cconv.relu(x, out=out) is out
    np.testing.assert_array_equal(out, ref)
    z = x.copy()
    assert cconv.relu(z, out=z) is z
    np.testing.assert_array_equal(z, ref)
    big = np.zeros((3, 4, 10), np.float32)
    view = big[:, :, ::2]
    cconv.relu(x, out=view)
    np.testing.assert_array_equal(view, ref)
    with pytest.raises(TypeError, match="out"):
        cconv.relu(x, out=np.empty_like(x, dtype=np.float64))
    with pytest.raises(ValueError, match="out"):
        cconv.relu(x, out=np.empty((2, 2), np.float32))
    with pytest.raises(TypeError, match="x"):
        cconv.relu(np.arange(3))

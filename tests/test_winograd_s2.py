"""The stride-2 1-D Winograd path (src/winograd_s2_avx2.c in ymm,
src/winograd_s2_avx512.c in zmm): 7- and 8-wide kernels at stride 2
(ResNet's 7x7/s2 stem), float32 and float64 on the AVX2 and AVX-512 kernel
tables, against float64 NumPy references (tests/reference.py:
conv_ref_fast, which test_conv.py checks against SciPy), never cconv
itself.

By default it takes stride-2 layers with at least 32 output channels, 24
output columns and C*R*S below 1024; the AVX-512 kernels run it in ymm
where 512-bit FMAs run at the 256-bit rate, else in zmm, and then only
where a row's tiles fill three quarters of its vectors.
CCONV_WINOGRAD=force takes every eligible shape (any width, any channel
count), CCONV_WINOGRAD=0 none (the direct kernel)."""
import os

import numpy as np
import pytest

import cconv
from reference import assert_close, conv_ref_fast, kernel_isas

pytestmark = pytest.mark.skipif(cconv._core.isa() not in ("avx2", "avx512"),
                                reason="the stride-2 Winograd path belongs to the SIMD kernels")

# the kernel tables this machine can run that take the path (each reads the
# weights from its own direct layout)
SIMD_ISAS = [i for i in kernel_isas() if i != "portable"]
# whether the kernels chosen at import run it in ymm, whose default rule the
# tests below check: AVX2, or AVX-512 where 512-bit FMAs run at the 256-bit
# rate (test_default_rule_zmm_full_rate: the zmm rule)
DEFAULT_TAKES = cconv._core.isa() == "avx2" or cconv._core.cpu_zmm_split()
default_takes = pytest.mark.skipif(not DEFAULT_TAKES,
                                   reason="the AVX-512 kernels run it in zmm here, by their own rule")

CONV1 = next(s for s in cconv.suite.LAYERS if s.name == "conv1_7x7s2_3to64")

# every test runs in both dtypes: one template, two instantiations (8 and 4
# tiles a vector)
DTYPES = pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])


@pytest.fixture
def force(monkeypatch):
    monkeypatch.setenv("CCONV_WINOGRAD", "force")


def _case(rng, N, C, H, W, K, R, S, pad, bias=True, residual=False, relu=False, scale=None,
          dt=np.float32):
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = (rng.standard_normal((K, C, R, S)) / np.sqrt(R * S * C)).astype(dt)
    if scale is not None:
        x *= scale[0]
        w *= scale[1]
    b = rng.standard_normal(K).astype(dt) if bias else None
    ref, absref = conv_ref_fast(x, w, b, 2, pad)
    r = rng.standard_normal(ref.shape).astype(dt) if residual else None
    if r is not None:
        ref, absref = ref + r, absref + np.abs(r)
    if relu:
        ref = np.maximum(ref, 0)
    return x, w, b, r, ref, absref


def _direct(monkeypatch, fn):
    before = os.environ.get("CCONV_WINOGRAD")
    monkeypatch.setenv("CCONV_WINOGRAD", "0")
    try:
        return fn()
    finally:
        if before is None:
            monkeypatch.delenv("CCONV_WINOGRAD")
        else:
            monkeypatch.setenv("CCONV_WINOGRAD", before)


@default_takes
@DTYPES
def test_conv1_fused(monkeypatch, dt):
    """The suite's stem (default rule: this path) with bias + residual + ReLU,
    batch 2, packed and one-shot, 1 and 2 threads: within the bound of a
    147-term sum, and not the direct kernel's bits."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2,) + CONV1.x_shape[1:]).astype(dt)
    w = (rng.standard_normal(CONV1.w_shape) / np.sqrt(147)).astype(dt)
    b = rng.standard_normal(CONV1.K).astype(dt)
    ref, absref = conv_ref_fast(x, w, b, 2, CONV1.pad)
    r = rng.standard_normal(ref.shape).astype(dt)
    ref, absref = np.maximum(ref + r, 0), absref + np.abs(r)
    kw = dict(stride=2, padding=CONV1.pad, residual=r, activation="relu")
    pw = cconv.pack_weights(w)
    ys = [cconv.conv2d(x, wt, b, num_threads=t, **kw) for wt in (pw, w) for t in (1, 2)]
    for y in ys:
        assert_close(y, ref, absref, 147)
        np.testing.assert_array_equal(y, ys[0])
    yd = _direct(monkeypatch, lambda: cconv.conv2d(x, pw, b, **kw))
    assert_close(yd, ref, absref, 147)
    assert not np.array_equal(yd, ys[0])


# (N, C, H, W, K, R, S, pad): widths off the 3-output tile and the 24-output
# vector (Wo 1, 2, 4, 23, 25, 50, 113), one and odd output rows, 8-wide
# kernels, kernel heights 1-8, K not a multiple of 6 (and 64: the direct
# layout's uneven blocks), 1-16 input channels, pads 0-4
ODD = [
    (1, 3, 64, 226, 64, 7, 7, 3),
    (2, 3, 57, 61, 40, 7, 7, 3),
    (1, 5, 50, 90, 33, 7, 7, 2),
    (1, 3, 40, 100, 64, 5, 7, 3),
    (1, 2, 31, 200, 48, 7, 8, 3),
    (3, 4, 20, 49, 70, 3, 7, 0),
    (1, 1, 7, 7, 1, 7, 7, 0),
    (1, 3, 8, 9, 7, 1, 7, 3),
    (1, 16, 13, 45, 12, 8, 8, 4),
    (1, 3, 9, 1, 6, 7, 7, 3),
    (2, 2, 11, 5, 13, 2, 7, 1),
    (1, 3, 15, 52, 66, 7, 7, 3),
]


@DTYPES
@pytest.mark.parametrize("case", ODD, ids=str)
def test_odd_shapes_forced(force, case, dt):
    N, C, H, W, K, R, S, pad = case
    rng = np.random.default_rng(sum(case))
    for bias, residual, relu in [(True, False, False), (False, True, True)]:
        x, w, b, r, ref, absref = _case(rng, N, C, H, W, K, R, S, pad, bias, residual, relu,
                                        dt=dt)
        for t in (1, 3):
            y = cconv.conv2d(x, w, b, stride=2, padding=pad, residual=r,
                             activation="relu" if relu else None, num_threads=t)
            assert y.shape == ref.shape
            assert_close(y, ref, absref, R * S * C)


@DTYPES
@pytest.mark.parametrize("isa", SIMD_ISAS)
@pytest.mark.parametrize("C, K", [(3, 64), (3, 7), (16, 12), (3, 32), (5, 40), (16, 70), (2, 33)],
                         ids=str)
def test_each_table_layout(monkeypatch, isa, C, K, dt):
    """Each kernel table packs its direct layout by output channels (blocks
    of up to 6 channels, or 16/32/64-channel output-channel tiles, by K and
    the ISA); the path reads the weights from whichever it is: within the
    bound, and not the direct kernel's bits."""
    rng = np.random.default_rng(C * 100 + K)
    x, w, b, r, ref, absref = _case(rng, 1, C, 26, 70, K, 7, 7, 3, residual=True, dt=dt)
    pw = cconv.pack_weights(w, _isa=isa)
    run = lambda: cconv.conv2d(x, pw, b, stride=2, padding=3, residual=r)
    monkeypatch.setenv("CCONV_WINOGRAD", "force")
    y = run()
    assert_close(y, ref, absref, 49 * C)
    yd = _direct(monkeypatch, run)
    assert_close(yd, ref, absref, 49 * C)
    assert not np.array_equal(y, yd)


@pytest.mark.skipif("avx512" not in SIMD_ISAS, reason="needs the AVX-512 kernels")
@DTYPES
@pytest.mark.parametrize("case", ODD[:6] + [(1, 3, 9, 1, 6, 7, 7, 3), (1, 3, 15, 52, 66, 7, 7, 3)],
                         ids=str)
def test_zmm_same_bits_as_ymm(force, case, dt):
    """The AVX-512 table runs the path in zmm vectors (16 / 8 tiles a vector)
    where 512-bit FMAs run at the full rate, else in ymm: either way every
    output is the same operations in the same order as on the AVX2 table,
    so the bits are the same, at any thread count."""
    N, C, H, W, K, R, S, pad = case
    rng = np.random.default_rng(sum(case) + 1)
    x, w, b, r, ref, absref = _case(rng, N, C, H, W, K, R, S, pad, residual=True, dt=dt)
    ys = [cconv.conv2d(x, cconv.pack_weights(w, _isa=isa), b, stride=2, padding=pad, residual=r,
                       activation="relu", num_threads=t)
          for isa in ("avx2", "avx512") for t in (1, 3)]
    assert_close(ys[0], np.maximum(ref, 0), absref, R * S * C)
    for y in ys[1:]:
        np.testing.assert_array_equal(ys[0], y)


@DTYPES
def test_channel_scales_forced(force, dt):
    """Input channels and weights of very different magnitudes (one channel
    dominating a sum), a hard case for the transforms' rounding."""
    rng = np.random.default_rng(21)
    for C, K in [(3, 64), (6, 12), (16, 32)]:
        sx = 10.0 ** rng.integers(-3, 4, (1, C, 1, 1))
        sw = 10.0 ** rng.integers(-2, 3, (K, C, 1, 1))
        x, w, b, r, ref, absref = _case(rng, 1, C, 23, 61, K, 7, 7, 3, scale=(sx, sw), dt=dt)
        y = cconv.conv2d(x, w, b, stride=2, padding=3)
        assert_close(y, ref, absref, 49 * C)


@DTYPES
def test_into_channel_slice_with_inplace_residual(force, dt):
    rng = np.random.default_rng(5)
    x, w, _, _, ref, absref = _case(rng, 2, 3, 30, 52, 11, 7, 7, 3, bias=False, dt=dt)
    big = rng.standard_normal((2, 20) + ref.shape[2:]).astype(dt)
    sl = big[:, 5:16]
    r0 = sl.copy()
    before = big.copy()
    cconv.conv2d(x, w, stride=2, padding=3, residual=sl, out=sl, activation="relu")
    assert_close(sl, np.maximum(ref + r0, 0), absref + np.abs(r0), 147)
    np.testing.assert_array_equal(big[:, :5], before[:, :5])
    np.testing.assert_array_equal(big[:, 16:], before[:, 16:])


@DTYPES
@pytest.mark.parametrize("shape", [(1, 3, 224, 224, 64), (3, 3, 41, 77, 40), (2, 5, 19, 52, 70)],
                         ids=str)
def test_threads_bitwise_equal(force, shape, dt):
    """Bands follow the thread count; every output is the same operations in
    the same order, so the bits do not."""
    N, C, H, W, K = shape
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C, 7, 7)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    pw = cconv.pack_weights(w)
    ys = [cconv.conv2d(x, pw, b, stride=2, padding=3, activation="relu", num_threads=t)
          for t in (1, 2, 3, 5)]
    for y in ys[1:]:
        np.testing.assert_array_equal(ys[0], y)


@default_takes
@DTYPES
def test_default_rule(monkeypatch, dt):
    """Taken from 32 output channels and 24 output columns, C*R*S below 1024,
    stride 2 in both dimensions only, within its scratch bound: elsewhere the
    default gives the direct kernel's bits."""
    rng = np.random.default_rng(3)

    def same_as_direct(C, H, W, K, S, stride):
        x = rng.standard_normal((1, C, H, W)).astype(dt)
        w = rng.standard_normal((K, C, 7, S)).astype(dt)
        run = lambda: cconv.conv2d(x, w, stride=stride, padding=3)
        return np.array_equal(run(), _direct(monkeypatch, run))

    assert not same_as_direct(3, 60, 60, 32, 7, 2)      # 30 columns, 32 channels
    assert not same_as_direct(3, 60, 60, 32, 8, 2)
    assert same_as_direct(3, 60, 60, 31, 7, 2)          # too few channels
    assert same_as_direct(3, 60, 40, 32, 7, 2)          # 20 columns
    assert not same_as_direct(20, 60, 60, 32, 7, 2)     # C*R*S 980: a short reduction
    assert same_as_direct(21, 60, 60, 32, 7, 2)         # 1029: the direct kernel
    assert same_as_direct(64, 60, 60, 64, 7, 2)
    assert same_as_direct(3, 60, 60, 32, 7, (1, 2))     # stride 1 down the rows
    assert same_as_direct(3, 60, 60, 32, 5, 2)          # 5 wide: F(3,4) does not apply
    # per-thread scratch: two output rows' transformed input rows and sums
    # within 1 MiB (float64: half the columns)
    es = np.dtype(dt).itemsize
    assert not same_as_direct(16, 9, 2560 // es, 32, 7, 2)  # 320 (160) columns: 945 KiB
    assert same_as_direct(16, 9, 3200 // es, 32, 7, 2)      # 400 (200) columns: 1.12 MiB
    assert same_as_direct(3, 60, 60, 1800, 7, 2)        # 1800 channels: 1.34 MiB (2.7)


@pytest.mark.skipif(DEFAULT_TAKES or cconv._core.isa() != "avx512",
                    reason="the AVX-512 kernels run the path in ymm here")
@DTYPES
def test_default_rule_zmm_full_rate(monkeypatch, dt):
    """AVX-512 kernels on a CPU whose 512-bit FMAs run at twice the 256-bit
    rate run the path in zmm vectors (16 float32 / 8 float64 tiles a
    vector), by default only where a row's tiles fill at least three
    quarters of its vectors; elsewhere the direct kernel's bits, and the
    path still runs when forced."""
    rng = np.random.default_rng(8)
    lanes = 64 // np.dtype(dt).itemsize

    def takes(Wo):
        x = rng.standard_normal((1, 3, 20, 2 * Wo)).astype(dt)
        w = rng.standard_normal((64, 3, 7, 7)).astype(dt)
        run = lambda: cconv.conv2d(x, w, stride=2, padding=3)
        return not np.array_equal(run(), _direct(monkeypatch, run))

    def fill(Wo):
        tiles = -(-Wo // 3)
        return tiles / (-(-tiles // lanes) * lanes)

    for Wo in (24, 28, 40, 56, 96, 112):
        assert takes(Wo) == (fill(Wo) >= 0.75), (Wo, fill(Wo))
    assert not takes(56) if dt == np.float32 else not takes(28)
    monkeypatch.setenv("CCONV_WINOGRAD", "force")
    x = rng.standard_normal((1, 3, 20, 56)).astype(dt)
    w = rng.standard_normal((64, 3, 7, 7)).astype(dt)
    run = lambda: cconv.conv2d(x, w, stride=2, padding=3)
    assert not np.array_equal(run(), _direct(monkeypatch, run))


@DTYPES
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan], ids=["inf", "-inf", "nan"])
def test_nonfinite_image_runs_direct(monkeypatch, force, value, dt):
    """An image holding Inf or NaN takes the direct kernel (its IEEE results:
    the transforms would turn Inf into NaN, and spread it to a whole tile);
    the other images of the batch keep this path."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 3, 40, 64)).astype(dt)
    w = rng.standard_normal((64, 3, 7, 7)).astype(dt)
    x[1, 2, 17, 30] = value
    pw = cconv.pack_weights(w)
    y = cconv.conv2d(x, pw, stride=2, padding=3)
    yd = _direct(monkeypatch, lambda: cconv.conv2d(x, pw, stride=2, padding=3))
    np.testing.assert_array_equal(y[1], yd[1])
    for n in (0, 2):
        np.testing.assert_array_equal(y[n], cconv.conv2d(x[n:n + 1], pw, stride=2, padding=3)[0])
        assert not np.array_equal(y[n], yd[n])


@DTYPES
@pytest.mark.parametrize("value", [np.inf, np.nan, "huge"])
def test_nonfinite_weights_run_direct(monkeypatch, force, value, dt):
    """A weight that is not finite, or whose transform overflows (97 % of
    the dtype's largest value, 3.3e38 in float32, times G's -16/15 at the
    point -1/2), sends the whole call to the direct kernel."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 3, 40, 64)).astype(dt)
    w = rng.standard_normal((64, 3, 7, 7)).astype(dt)
    w[63, 2, 6, 0] = 0.97 * np.finfo(dt).max if value == "huge" else value
    for wt in (cconv.pack_weights(w), w):
        y = cconv.conv2d(x, wt, stride=2, padding=3)
        yd = _direct(monkeypatch, lambda: cconv.conv2d(x, wt, stride=2, padding=3))
        np.testing.assert_array_equal(y, yd)

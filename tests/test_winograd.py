"""The Winograd F(4x4,3x3) and F(2x2,5x5) paths of the AVX2/AVX-512 kernels,
float32 and float64 (src/winograd_avx2.c, winograd_template.h), against float64
SciPy/NumPy references (tests/reference.py), never cconv itself.

CCONV_WINOGRAD=force makes every eligible layer (3x3 or 5x5, stride 1,
dilation 1, groups 1, 2-D) take the Winograd path whatever its size, so odd
and tiny shapes are covered; CCONV_WINOGRAD=0 turns it off (the direct kernel)."""
import numpy as np
import pytest

import cconv
from reference import assert_close, conv_ref, conv_ref_fast

pytestmark = pytest.mark.skipif(cconv._core.isa() not in ("avx2", "avx512"),
                                reason="the Winograd path belongs to the AVX2/AVX-512 kernels")

SUITE_3X3 = [s for s in cconv.suite.LAYERS
             if s.kernel == 3 and s.stride == 1 and s.C >= 16]


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture
def force(monkeypatch):
    monkeypatch.setenv("CCONV_WINOGRAD", "force")


def _case(rng, N, C, H, W, K, pad, bias=True, residual=False, relu=False, scale=None,
          dtype=np.float32, k=3):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, k, k)) / np.sqrt(k * k * C)).astype(dtype)
    if scale is not None:
        x *= scale[0]
        w *= scale[1]
    b = rng.standard_normal(K).astype(dtype) if bias else None
    ref, absref = conv_ref(x, w, b, 1, pad)
    r = rng.standard_normal(ref.shape).astype(dtype) if residual else None
    if r is not None:
        ref, absref = ref + r, absref + np.abs(r)
    if relu:
        ref = np.maximum(ref, 0)
    return x, w, b, r, ref, absref


def test_suite_3x3_shapes_are_eligible():
    assert {s.name for s in SUITE_3X3} >= {
        "incep3a_3x3_96to128", "res2_3x3_64to64", "res4_3x3_256to256",
        "fire2_ex_3x3_16to64", "res2_3x3_64to64_b8"}


@pytest.mark.parametrize("shape", SUITE_3X3, ids=lambda s: s.name)
def test_suite_shapes_fused(shape, dtype):
    """The suite's 3x3 layers (default heuristic: Winograd) with bias +
    residual + ReLU, batch cut to 2."""
    rng = np.random.default_rng(3)
    N = min(shape.N, 2)
    x = rng.standard_normal((N,) + shape.x_shape[1:]).astype(dtype)
    w = (rng.standard_normal(shape.w_shape) / np.sqrt(9 * shape.C)).astype(dtype)
    b = rng.standard_normal(shape.K).astype(dtype)
    ref, absref = conv_ref_fast(x, w, b, 1, shape.pad)
    r = rng.standard_normal(ref.shape).astype(dtype)
    ref, absref = np.maximum(ref + r, 0), absref + np.abs(r)
    y = cconv.conv2d(x, cconv.pack_weights(w), b, padding=shape.pad, residual=r,
                     activation="relu")
    assert_close(y, ref, absref, 9 * shape.C)


# (N, C, H, W, K, pad): sizes off the 4x4 tile grid, tiny images, K not a
# multiple of 6, more tiles than one block (32), several channel chunks (66)
ODD = [
    (1, 16, 8, 8, 16, 1),
    (2, 19, 23, 19, 24, 1),
    (1, 20, 9, 11, 25, 0),
    (1, 17, 13, 17, 14, 2),
    (1, 16, 30, 3, 7, 1),
    (1, 24, 3, 41, 70, 1),
    (3, 16, 21, 26, 13, 1),
    (1, 33, 14, 14, 133, 1),
    (1, 4, 6, 6, 5, 1),
    (1, 1, 7, 5, 1, 1),
]
TINY = [(1, 8, h, w, 6, p) for h in range(1, 6) for w in (1, 3, 5) for p in (0, 1, 2)
        if h + 2 * p >= 3 and w + 2 * p >= 3]


@pytest.mark.parametrize("case", ODD + TINY, ids=str)
def test_odd_and_tiny_shapes_forced(force, case, dtype):
    N, C, H, W, K, pad = case
    rng = np.random.default_rng(sum(case))
    for bias, residual, relu in [(True, False, False), (False, True, True)]:
        x, w, b, r, ref, absref = _case(rng, N, C, H, W, K, pad, bias, residual, relu,
                                        dtype=dtype)
        y = cconv.conv2d(x, w, b, padding=pad, residual=r,
                         activation="relu" if relu else None)
        assert y.shape == ref.shape
        assert_close(y, ref, absref, 9 * C)


@pytest.mark.parametrize("k, seed", [(3, 8), (5, 14)], ids=["3x3", "5x5"])
def test_channel_scales_forced(force, dtype, k, seed):
    """Input channels and weights of very different magnitudes (one channel
    dominating a sum), a hard case for the transforms' rounding."""
    rng = np.random.default_rng(seed)
    for C, K in [(16, 16), (6, 6), (32, 12)]:
        sx = 10.0 ** rng.integers(-3, 4, (1, C, 1, 1))
        sw = 10.0 ** rng.integers(-2, 3, (K, C, 1, 1))
        x, w, b, r, ref, absref = _case(rng, 1, C, 11, 13, K, k // 2, scale=(sx, sw),
                                        dtype=dtype, k=k)
        y = cconv.conv2d(x, w, b, padding=k // 2)
        assert_close(y, ref, absref, k * k * C)


@pytest.mark.parametrize("k, seed", [(3, 4), (5, 15)], ids=["3x3", "5x5"])
def test_into_channel_slice_with_inplace_residual(force, dtype, k, seed):
    rng = np.random.default_rng(seed)
    x, w, _, _, ref, absref = _case(rng, 2, 16, 10, 9, 11, k // 2, bias=False, dtype=dtype, k=k)
    big = rng.standard_normal((2, 20, 10, 9)).astype(dtype)
    sl = big[:, 5:16]
    r0 = sl.copy()
    before = big.copy()
    cconv.conv2d(x, w, padding=k // 2, residual=sl, out=sl, activation="relu")
    assert_close(sl, np.maximum(ref + r0, 0), absref + np.abs(r0), k * k * 16)
    np.testing.assert_array_equal(big[:, :5], before[:, :5])
    np.testing.assert_array_equal(big[:, 16:], before[:, 16:])


# (N, C, H, W, K, kernel)
@pytest.mark.parametrize("shape", [(1, 64, 56, 56, 64, 3), (2, 16, 23, 19, 24, 3),
                                   (1, 40, 14, 14, 33, 3), (1, 256, 14, 14, 256, 3),
                                   (3, 20, 9, 30, 70, 3), (1, 192, 28, 28, 32, 5),
                                   (2, 16, 23, 19, 24, 5), (3, 20, 9, 30, 70, 5)], ids=str)
def test_threads_bitwise_equal(force, shape, dtype):
    N, C, H, W, K, k = shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, k, k)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    pw = cconv.pack_weights(w)
    ys = [cconv.conv2d(x, pw, b, padding=k // 2, activation="relu", num_threads=t)
          for t in (1, 2, 3, 5)]
    for y in ys[1:]:
        np.testing.assert_array_equal(ys[0], y)


# (N, C, H, W, K, pad); from 32 input channels both dtypes take the wide
# kernels (conv_select.c), float64 with 16 too (the last case):
# 28x28 (32 + 17 tiles: a panel pair, then a pair whose second panel is mostly
# lanes past the block) over 2 channel chunks (K = 132: 22 blocks); 14x14
# (16 tiles: one panel, two 6-channel blocks a call) with an odd block count
# (K = 66: 11) and a partial one (K = 70); 7x7 (4 tiles); 36x36 over 2 images;
# 19- and 10-wide, 13-high outputs (partial tiles in the output transform)
WIDE = [(1, 32, 28, 28, 132, 1), (1, 64, 14, 14, 66, 1), (1, 64, 14, 14, 70, 1),
        (1, 96, 7, 7, 64, 1), (2, 64, 36, 36, 64, 1), (1, 48, 30, 17, 100, 2),
        (1, 64, 13, 10, 64, 1), (1, 16, 13, 10, 20, 1)]


# (N, C, H, W, K, pad) of 5x5 layers: the wide GEMM under winograd_avx2.c's
# 2x2 transforms; 28x28 (196 tiles: several blocks, panel pairs), 7x7 (16
# tiles: one panel) with a partial 6-channel block (K = 70), 13x10 (partial
# tiles) over 2 images, and 16 input channels (3x3 float32 layers keep the
# AVX2 GEMM below 32, 5x5 ones take the wide one from 16)
WIDE5 = [(1, 32, 28, 28, 40, 2), (1, 48, 7, 7, 70, 2), (2, 64, 13, 10, 20, 2),
         (1, 16, 12, 12, 24, 2)]


@pytest.mark.skipif(cconv._core.isa() != "avx512", reason="needs AVX-512")
@pytest.mark.parametrize("r, case", [(3, c) for c in WIDE] + [(5, c) for c in WIDE5], ids=str)
def test_avx512_gemm_matches_avx2_bitwise(force, r, case, dtype):
    """On AVX-512 the Winograd GEMM of these layers runs in zmm
    (winograd_avx512.c), every step of a call, tiles past a block's end
    included, and so do the 3x3 layers' float32 input and output transforms,
    16 tiles a vector (5x5 layers keep their 2x2 ymm transforms).  Per tile
    these are the same operations in the same order as the AVX2 ones, so the
    two must agree bitwise, on 1 and 3 threads (which change the blocks), with
    bias, residual and ReLU; both meet the float64 bound."""
    N, C, H, W, K, pad = case
    rng = np.random.default_rng(sum(case) + r)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, r, r)) / np.sqrt(r * r * C)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    ref, absref = conv_ref_fast(x, w, b, 1, pad)
    res = rng.standard_normal(ref.shape).astype(dtype)
    ref, absref = np.maximum(ref + res, 0), absref + np.abs(res)
    ys = []
    for isa in ("avx2", "avx512"):
        pw = cconv._core.PackedWeights(w, 1, _isa=isa)
        for t in (1, 3):
            y = cconv.conv2d(x, pw, b, padding=pad, residual=res, activation="relu",
                             num_threads=t)
            assert_close(y, ref, absref, r * r * C)
            ys.append(y)
    for y in ys[1:]:
        np.testing.assert_array_equal(ys[0], y)


@pytest.mark.skipif(cconv._core.isa() != "avx512", reason="needs AVX-512")
@pytest.mark.parametrize("K, C, r", [(13, 37, 3), (6, 16, 3), (7, 5, 3), (64, 96, 3),
                                     (13, 37, 5), (32, 20, 5), (24, 18, 3), (12, 18, 3),
                                     (20, 37, 3)],
                         ids=str)
def test_avx512_weight_transform_matches_avx2_bytes(K, C, r, dtype):
    """On AVX-512 the Winograd weight transform runs 8 filters a zmm
    (winograd_avx512.c), 4 input channels x 6 output channels a step, with
    lanes off past K and past C; per filter the same double operations as the
    AVX2 one, so the transformed weights (the packed bytes after the direct
    layout) are the same bytes, staged or (elements an odd number of cache
    lines apart: 24 x 18 float32, 12 x 18 float64) stored in place with the
    last two channels staged; and the raw-weight one-shot path, which
    transforms chunk by chunk on the same code, in place, gives the packed
    path's bits."""
    rng = np.random.default_rng(K * C * r)
    w = rng.standard_normal((K, C, r, r)).astype(dtype)
    w[0, 0, 0, 0] = 3e-39 if dtype == np.float32 else 3e-310   # a subnormal tap
    nw = 36 * (-(-K // 6) * 6) * C * np.dtype(dtype).itemsize
    got = [cconv._core.PackedWeights(w, _isa=isa)._packed_bytes() for isa in ("avx2", "avx512")]
    assert len(got[0]) >= nw and len(got[1]) >= nw
    assert got[0][-nw:] == got[1][-nw:]
    if r == 3 and C >= 32 and K >= 16:   # Winograd applies
        x = rng.standard_normal((1, C, 14, 14)).astype(dtype)
        raw = cconv._core.PackedWeights(w, _wino_raw=True)
        np.testing.assert_array_equal(cconv.conv2d(x, raw, padding=1),
                                      cconv.conv2d(x, cconv.pack_weights(w), padding=1))


def test_off_and_forced_agree_within_bound(monkeypatch, dtype):
    """The direct kernel (CCONV_WINOGRAD=0) and the Winograd path on the same
    packed weights both meet the bound; they differ only by rounding."""
    rng = np.random.default_rng(6)
    x, w, b, _, ref, absref = _case(rng, 1, 32, 12, 12, 20, 1, dtype=dtype)
    pw = cconv.pack_weights(w)
    monkeypatch.setenv("CCONV_WINOGRAD", "0")
    y_direct = cconv.conv2d(x, pw, b, padding=1)
    monkeypatch.setenv("CCONV_WINOGRAD", "force")
    y_wino = cconv.conv2d(x, pw, b, padding=1)
    assert_close(y_direct, ref, absref, 9 * 32)
    assert_close(y_wino, ref, absref, 9 * 32)
    assert not np.array_equal(y_direct, y_wino)  # really two different paths


def test_ineligible_layers_unaffected(force):
    """Strided, dilated, grouped, 7x7, 1-D and 3-D layers ignore the switch."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    for kw, wshape in [(dict(stride=2, padding=1), (8, 16, 3, 3)),
                       (dict(dilation=2, padding=2), (8, 16, 3, 3)),
                       (dict(groups=2, padding=1), (8, 8, 3, 3)),
                       (dict(padding=3), (8, 16, 7, 7))]:
        w = rng.standard_normal(wshape).astype(np.float32)
        ref, absref = conv_ref(x, w, None, kw.get("stride", 1), kw["padding"],
                               kw.get("dilation", 1), kw.get("groups", 1))
        y = cconv.conv2d(x, w, **kw)
        assert_close(y, ref, absref, wshape[1] * wshape[2] * wshape[3])
    x3 = rng.standard_normal((1, 16, 4, 6, 6)).astype(np.float32)
    w3 = rng.standard_normal((5, 16, 1, 3, 3)).astype(np.float32)
    ref, absref = conv_ref(x3, w3, None, 1, 1)
    assert_close(cconv.conv3d(x3, w3, padding=1), ref, absref, 16 * 9)


@pytest.mark.parametrize("where", ["input", "weight"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nonfinite_values_propagate_exactly(force, where, value, dtype):
    """Winograd mixes a whole tile, so non-finite inputs or weights take the
    direct path: NaN/Inf reach exactly the outputs whose window holds them."""
    rng = np.random.default_rng(9)
    x, w, b, _, ref, absref = _case(rng, 1, 16, 16, 16, 8, 1, dtype=dtype)
    if where == "input":
        x[0, 3, 9, 9] = value
        hit = np.zeros((8, 16, 16), bool)
        hit[:, 8:11, 8:11] = True              # outputs whose 3x3 window holds (9, 9)
    else:
        w[2, 3, 1, 1] = value
        hit = np.zeros((8, 16, 16), bool)
        hit[2] = True
    pw = cconv.pack_weights(w)
    for weight in (w, pw):
        y = cconv.conv2d(x, weight, b, padding=1)[0]
        assert (~np.isfinite(y[hit])).all()
        assert np.isfinite(y[~hit]).all()
        ref2, absref2 = conv_ref(np.nan_to_num(x, posinf=0), np.nan_to_num(w, posinf=0), b, 1, 1)
        assert_close(y[~hit], ref2[0][~hit], absref2[0][~hit], 9 * 16)


@pytest.mark.parametrize("k, pos", [(3, 0), (3, 1023), (3, 1024), (3, 2303), (5, 0), (5, 6399)])
@pytest.mark.parametrize("value", [np.nan, -np.inf])
def test_nonfinite_weight_anywhere_packs_direct_only(monkeypatch, k, pos, value, dtype):
    """The weight scan (finite.c, blocks of 1024 values) finds a non-finite
    value at either end of a block and of the weights: those weights pack
    for the direct kernel only, so the result is the direct kernel's, bit
    for bit, where Winograd would take the layer (3x3 and 5x5: an infinite
    weight transformed would turn the channel's infinities into NaN)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 16, 16, 16)).astype(dtype)
    w = rng.standard_normal((16, 16, k, k)).astype(dtype)      # 2304 or 6400 values
    w.reshape(-1)[pos] = value
    for weight in (w, None):   # raw weights: a one-shot call
        monkeypatch.setenv("CCONV_WINOGRAD", "force")
        y = cconv.conv2d(x, cconv.pack_weights(w) if weight is None else weight, padding=k // 2)
        monkeypatch.setenv("CCONV_WINOGRAD", "0")
        y_direct = cconv.conv2d(x, cconv.pack_weights(w), padding=k // 2)
        np.testing.assert_array_equal(y, y_direct)
        assert not np.isfinite(y[0, pos // (16 * k * k)]).all()


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("pos", [0, 196607, 196608, 294911, 294912, 589823])
def test_weight_scan_split_over_threads(pos, threads):
    """Large weights are scanned by up to num_threads threads (finite.c: one
    for each 32K values; two or three here, the first share ending at value
    294911 with two threads, 196607 with three):
    a non-finite value in either share, at its first or last value, packs the
    weights for the direct kernel only (fewer bytes: no Winograd layout)."""
    w = np.ones((256, 256, 3, 3), np.float32)
    direct_bytes = cconv._core.PackedWeights(w, _direct_only=True).nbytes
    assert cconv.pack_weights(w, num_threads=threads).nbytes > direct_bytes
    w.reshape(-1)[pos] = np.inf
    assert cconv.pack_weights(w, num_threads=threads).nbytes == direct_bytes


def test_oneshot_small_problems_pack_direct_only(monkeypatch):
    """Raw (unpacked) 3x3 weights on a small image skip the Winograd weight
    transform; the result is the direct kernel's, bit for bit."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 64, 12, 12)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    monkeypatch.setenv("CCONV_WINOGRAD", "force")
    y_oneshot = cconv.conv2d(x, w, padding=1)
    monkeypatch.setenv("CCONV_WINOGRAD", "0")
    y_direct = cconv.conv2d(x, cconv.pack_weights(w), padding=1)
    np.testing.assert_array_equal(y_oneshot, y_direct)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("C, K, hw, nt", [(256, 256, 14, 1), (64, 40, 14, 2), (32, 16, 13, 3),
                                         (17, 133, 16, 2)])
def test_oneshot_raw_weights_match_packed(C, K, hw, nt, dt):
    """A one-shot call on an image of 16-32 tiles runs Winograd from the raw
    weights, each chunk of output channels transformed where it runs: bit
    for bit the packed Winograd result (fused bias, residual, ReLU; K not a
    multiple of the 6-channel blocks; partial tiles), within the bound; on
    AVX-512 with the wide kernels from 32 channels (float32; float64 all),
    as the packed weights run."""
    rng = np.random.default_rng(21)
    x, w, b, r, ref, absref = _case(rng, 1, C, hw, hw, K, 1, residual=True, relu=True, dtype=dt)
    pw = cconv._core.PackedWeights(w, _wino_raw=True)
    assert pw.nbytes == 0
    kw = dict(padding=1, residual=r, activation="relu", num_threads=nt)
    y_packed = cconv.conv2d(x, cconv.pack_weights(w), b, **kw)
    for weight in (w, pw):
        y = cconv.conv2d(x, weight, b, **kw)
        np.testing.assert_array_equal(y, y_packed)
    assert_close(y, ref, absref, 9 * C)
    y_direct = cconv.conv2d(x, cconv._core.PackedWeights(w, _direct_only=True), b, **kw)
    assert not np.array_equal(y, y_direct)   # it is the Winograd path


@pytest.mark.parametrize("mode", ["0", "nan"])
def test_oneshot_raw_weights_direct_fallback(monkeypatch, mode):
    """Raw weights where Winograd does not run (switched off, or an image
    with a NaN) pack the direct layout for the call: the direct kernel's
    result, bit for bit; the finite image of the batch keeps Winograd."""
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 32, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((48, 32, 3, 3)) / 17).astype(np.float32)
    pw = cconv._core.PackedWeights(w, _wino_raw=True)
    direct = cconv._core.PackedWeights(w, _direct_only=True)
    if mode == "0":
        monkeypatch.setenv("CCONV_WINOGRAD", "0")
        np.testing.assert_array_equal(cconv.conv2d(x, pw, padding=1),
                                      cconv.conv2d(x, direct, padding=1))
        return
    x[1, 5, 3, 3] = np.nan
    y = cconv.conv2d(x, pw, padding=1)
    np.testing.assert_array_equal(y[1], cconv.conv2d(x[1:], direct, padding=1)[0])
    np.testing.assert_array_equal(y[0], cconv.conv2d(x[:1], cconv.pack_weights(w), padding=1)[0])
    assert np.isnan(y[1, :, 2:5, 2:5]).all() and np.isfinite(y[0]).all()


@pytest.mark.parametrize("N, hw, dtype_, nt, layout", [
    (1, 14, np.float32, 1, "raw"), (2, 14, np.float32, 1, "raw"), (1, 20, np.float32, 1, "raw"),
    (3, 14, np.float32, 1, "packed"), (1, 28, np.float32, 1, "packed"),
    (1, 12, np.float32, 1, "direct"), (1, 24, np.float32, 1, "direct"),
    (4, 7, np.float32, 1, "direct"),
    (1, 14, np.float64, 1, "raw"), (2, 14, np.float64, 1, "direct"),
    (1, 20, np.float64, 1, "direct"),
    # two threads or more: two tile blocks too, side by side
    (1, 28, np.float32, 2, "raw"), (1, 24, np.float32, 2, "raw"), (1, 28, np.float32, 4, "raw"),
    (2, 14, np.float64, 2, "raw"), (1, 20, np.float64, 2, "raw"),
    (3, 14, np.float32, 2, "packed"), (1, 36, np.float32, 4, "packed"),
    (1, 28, np.float64, 2, "packed"), (1, 12, np.float32, 2, "direct"),
    (4, 7, np.float32, 2, "direct")])
def test_oneshot_raw_weights_rule(N, hw, dtype_, nt, layout):
    """Which one-shot 3x3 calls transform raw weights where they run: 16 to 32
    tiles an image (float64: 16), all images together within one tile block (3
    images of 16 tiles would transform the weights three times; 36 tiles, 24x24,
    would span two blocks), or with two threads or more two tile blocks in all;
    from 48 tiles the whole transform is packed, and below 16 an image the direct
    kernel runs.  The result: Winograd's bits or the direct kernel's."""
    assert cconv._core._ONESHOT_WINO_RAW_MIN_TILES == 16
    assert cconv._core._ONESHOT_WINO_RAW_MAX_BLOCKS == 2
    assert cconv._core._wino_block_tiles(np.float32) == 32
    assert cconv._core._wino_block_tiles(np.float64) == 16
    got = cconv._core._oneshot_winograd(dtype_, N, (3, 3), (hw, hw), 1, (1, 1), (1, 1), nt)
    assert got == layout
    rule = cconv._core._oneshot_winograd
    assert rule(dtype_, N, (3, 3), (hw, hw), 2, (1, 1), (1, 1), nt) == "direct"
    assert rule(dtype_, N, (3, 3), (hw, hw), 1, (2, 2), (1, 1), nt) == "direct"
    rng = np.random.default_rng(23)
    x = rng.standard_normal((N, 64, hw, hw)).astype(dtype_)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(dtype_)
    y = cconv.conv2d(x, w, padding=1, num_threads=nt)
    y_direct = cconv.conv2d(x, cconv._core.PackedWeights(w, _direct_only=True), padding=1)
    assert np.array_equal(y, y_direct) == (layout == "direct")
    if layout != "direct":
        np.testing.assert_array_equal(y, cconv.conv2d(x, cconv.pack_weights(w), padding=1))


def test_algorithm_chosen_per_image(force, dtype):
    """A NaN in one image sends that image to the direct path only: the other
    images give bit for bit what they give alone."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 16, 12, 12)).astype(dtype)
    x[1, 2, 5, 5] = np.nan
    w = cconv.pack_weights(rng.standard_normal((16, 16, 3, 3)).astype(dtype))
    y = cconv.conv2d(x, w, padding=1)
    for n in range(4):
        np.testing.assert_array_equal(y[n], cconv.conv2d(x[n], w, padding=1))
    assert np.isnan(y[1, :, 4:7, 4:7]).all() and np.isfinite(y[[0, 2, 3]]).all()


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("chan", [0, 31, 32, 63])
def test_image_scan_split_over_threads(force, threads, chan):
    """An image of 64 x 64 x 64 values is scanned by up to num_threads threads
    (conv_select.c: one per 64K values, whole channels each): a NaN in any
    thread's channels, first or last, sends that image to the direct path,
    bit for bit, and the finite image beside it to Winograd."""
    rng = np.random.default_rng(29)
    x = rng.standard_normal((2, 64, 64, 64)).astype(np.float32)
    x[1, chan, 63 if chan % 2 else 0, 7] = np.nan
    w = rng.standard_normal((32, 64, 3, 3)).astype(np.float32)
    pw = cconv.pack_weights(w)
    y = cconv.conv2d(x, pw, padding=1, num_threads=threads)
    direct = cconv._core.PackedWeights(w, _direct_only=True)
    np.testing.assert_array_equal(y[1], cconv.conv2d(x[1], direct, padding=1, num_threads=threads))
    np.testing.assert_array_equal(y[0], cconv.conv2d(x[0], pw, padding=1, num_threads=1))
    assert not np.array_equal(y[0], cconv.conv2d(x[0], direct, padding=1))


@pytest.mark.parametrize("hw, wino", [(12, False), (13, True)])
def test_float64_needs_more_tiles(monkeypatch, hw, wino):
    """float64 takes Winograd from 16 output tiles an image (its transformed
    weights are twice the bytes to stream); a 12x12 image (9 tiles) stays
    direct, bit for bit the direct kernel's result.  float32 takes both."""
    rng = np.random.default_rng(7)
    for dtype, expect in [(np.float64, wino), (np.float32, True)]:
        x, w, b, _, ref, absref = _case(rng, 1, 16, hw, hw, 16, 1, dtype=dtype)
        pw = cconv.pack_weights(w)
        y = cconv.conv2d(x, pw, b, padding=1)
        monkeypatch.setenv("CCONV_WINOGRAD", "0")
        y_direct = cconv.conv2d(x, pw, b, padding=1)
        monkeypatch.delenv("CCONV_WINOGRAD")
        assert_close(y, ref, absref, 9 * 16)
        assert np.array_equal(y, y_direct) != expect, dtype


@pytest.mark.parametrize("dtype, K", [(np.float32, 512), (np.float64, 256)])
def test_large_packed_weights(dtype, K):
    """Packed weights past 32 MiB (Winograd's are 36/9 the raw bytes) sit in a
    buffer on 2 MiB pages (threads.c).  Both of its layouts give the float64
    reference: Winograd on a 13x13 image (16 tiles), the direct layout on a
    3x3 one; checked on the first and last 8 output channels."""
    rng = np.random.default_rng(11)
    C = 512
    w = (rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(dtype)
    pw = cconv.pack_weights(w)
    assert pw.nbytes > 32 << 20
    for hw in (13, 3):
        x = rng.standard_normal((1, C, hw, hw)).astype(dtype)
        y = cconv.conv2d(x, pw, padding=1)
        for ks in (slice(0, 8), slice(K - 8, K)):
            ref, absref = conv_ref_fast(x, w[ks], padding=1)
            assert_close(y[:, ks], ref, absref, 9 * C)


# ---- F(2x2,5x5): 5x5 layers ----

SUITE_5X5 = [s for s in cconv.suite.LAYERS if s.kernel == 5 and s.stride == 1 and s.C >= 16]


def test_suite_5x5_shape_takes_winograd(monkeypatch, dtype):
    """The suite's 5x5 layer (192 -> 32 at 28x28) takes F(2x2,5x5) by default,
    with bias + residual + ReLU; the direct kernel on the same packed weights
    (CCONV_WINOGRAD=0) meets the bound too, with other roundings."""
    assert [s.name for s in SUITE_5X5] == ["incep3a_5x5_192to32_direct"]
    shape = SUITE_5X5[0]
    rng = np.random.default_rng(13)
    x = rng.standard_normal(shape.x_shape).astype(dtype)
    w = (rng.standard_normal(shape.w_shape) / np.sqrt(25 * shape.C)).astype(dtype)
    b = rng.standard_normal(shape.K).astype(dtype)
    ref, absref = conv_ref_fast(x, w, b, 1, shape.pad)
    r = rng.standard_normal(ref.shape).astype(dtype)
    ref, absref = np.maximum(ref + r, 0), absref + np.abs(r)
    pw = cconv.pack_weights(w)
    y = cconv.conv2d(x, pw, b, padding=shape.pad, residual=r, activation="relu")
    assert_close(y, ref, absref, 25 * shape.C)
    monkeypatch.setenv("CCONV_WINOGRAD", "0")
    y_direct = cconv.conv2d(x, pw, b, padding=shape.pad, residual=r, activation="relu")
    assert_close(y_direct, ref, absref, 25 * shape.C)
    assert not np.array_equal(y, y_direct)


# (N, C, H, W, K, pad): outputs off the 2x2 grid (odd sizes: a partial last
# tile), rows of tiles that split the 8-tile (float64: 4) vectors of the
# input transform (side by side or not: its two code paths), more tiles than a
# block (32), K not a multiple of 6, several channel chunks (K = 133), 1- and
# 2-wide outputs, padding 0 to 3 (wider than the tile)
ODD5 = [
    (1, 16, 6, 6, 16, 0),
    (1, 16, 9, 13, 17, 1),
    (2, 19, 6, 5, 7, 0),
    (1, 24, 7, 7, 30, 3),
    (1, 16, 40, 37, 12, 2),
    (3, 17, 21, 26, 13, 2),
    (1, 33, 14, 14, 133, 2),
    (1, 20, 30, 3, 7, 2),
    (1, 16, 3, 41, 70, 1),
    (1, 4, 5, 5, 5, 2),
    (1, 1, 9, 7, 1, 1),
]
TINY5 = [(1, 8, h, w, 6, p) for h in (1, 2, 5) for w in (1, 4, 6) for p in (0, 1, 2, 3)
         if h + 2 * p >= 5 and w + 2 * p >= 5]


@pytest.mark.parametrize("case", ODD5 + TINY5, ids=str)
def test_5x5_odd_and_tiny_shapes_forced(force, case, dtype):
    N, C, H, W, K, pad = case
    rng = np.random.default_rng(sum(case) + 5)
    for bias, residual, relu in [(True, False, False), (False, True, True)]:
        x, w, b, r, ref, absref = _case(rng, N, C, H, W, K, pad, bias, residual, relu,
                                        dtype=dtype, k=5)
        y = cconv.conv2d(x, w, b, padding=pad, residual=r,
                         activation="relu" if relu else None)
        assert y.shape == ref.shape
        assert_close(y, ref, absref, 25 * C)


@pytest.mark.parametrize("where", ["input", "weight"])
def test_5x5_nonfinite_values_propagate_exactly(force, where, dtype):
    """As for 3x3: a NaN reaches exactly the outputs whose 5x5 window holds it."""
    rng = np.random.default_rng(17)
    x, w, b, _, ref, absref = _case(rng, 1, 16, 16, 16, 8, 2, dtype=dtype, k=5)
    hit = np.zeros((8, 16, 16), bool)
    if where == "input":
        x[0, 3, 9, 9] = np.nan
        hit[:, 7:12, 7:12] = True
    else:
        w[2, 3, 1, 1] = np.nan
        hit[2] = True
    y = cconv.conv2d(x, cconv.pack_weights(w), b, padding=2)[0]
    assert np.isnan(y[hit]).all() and np.isfinite(y[~hit]).all()
    ref2, absref2 = conv_ref(np.nan_to_num(x), np.nan_to_num(w), b, 1, 2)
    assert_close(y[~hit], ref2[0][~hit], absref2[0][~hit], 25 * 16)


@pytest.mark.parametrize("hw, C, wino", [(6, 32, True), (5, 32, False), (28, 8, False),
                                         (28, 16, True)])
def test_5x5_heuristic(monkeypatch, hw, C, wino, dtype):
    """5x5 layers take Winograd on outputs of at least 6x6 with 16 or more
    channels in and out; smaller ones stay direct, bit for bit the direct
    kernel's result."""
    rng = np.random.default_rng(18)
    x, w, b, _, ref, absref = _case(rng, 1, C, hw, hw, 16, 2, dtype=dtype, k=5)
    pw = cconv.pack_weights(w)
    y = cconv.conv2d(x, pw, b, padding=2)
    monkeypatch.setenv("CCONV_WINOGRAD", "0")
    y_direct = cconv.conv2d(x, pw, b, padding=2)
    assert_close(y, ref, absref, 25 * C)
    assert np.array_equal(y, y_direct) != wino
    assert cconv._core._winograd_applies(dtype, C, 16, hw, hw, 2, 2, k=5) is False
    monkeypatch.delenv("CCONV_WINOGRAD")
    assert cconv._core._winograd_applies(dtype, C, 16, hw, hw, 2, 2, k=5) is wino


@pytest.mark.parametrize("hw, wino", [(8, False), (10, True)])
def test_5x5_oneshot_packs_winograd_from_25_tiles(monkeypatch, hw, wino):
    """Raw 5x5 weights take Winograd in a one-shot call from 25 2x2 output
    tiles (10x10); below, the weights pack for the direct kernel only, and the
    result is the direct kernel's, bit for bit."""
    rng = np.random.default_rng(19)
    x = rng.standard_normal((1, 32, hw, hw)).astype(np.float32)
    w = rng.standard_normal((32, 32, 5, 5)).astype(np.float32)
    monkeypatch.setenv("CCONV_WINOGRAD", "force")
    y_oneshot = cconv.conv2d(x, w, padding=2)
    y_wino = cconv.conv2d(x, cconv.pack_weights(w), padding=2)
    monkeypatch.setenv("CCONV_WINOGRAD", "0")
    y_direct = cconv.conv2d(x, cconv.pack_weights(w), padding=2)
    np.testing.assert_array_equal(y_oneshot, y_wino if wino else y_direct)
    assert not np.array_equal(y_wino, y_direct)

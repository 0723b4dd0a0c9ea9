"""Correctness of the hand-written AVX2 kernels (src/conv_avx2.c) and of the
portable path on the same cases: every suite shape in both dtypes, and the
edge cases of the AVX2 blocking (6-channel x 16/8-pixel register tiles, the
1x1 GEMM panels, the prepared input bands with stride phases).  References
are float64 SciPy/NumPy (tests/reference.py), never cconv itself."""
import numpy as np
import pytest

import cconv
from reference import assert_close, at_offset, conv_ref, conv_ref_fast, kernel_isas, run_conv_case

ISAS = kernel_isas()
CONV = {1: cconv.conv1d, 2: cconv.conv2d, 3: cconv.conv3d}



@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", cconv.suite.LAYERS, ids=lambda s: s.name)
def test_suite_shapes_float64_fused(shape, isa):
    """Every suite layer in float64 with bias + residual + ReLU fused."""
    rng = np.random.default_rng(11)
    N = min(shape.N, 2)
    x = rng.standard_normal((N,) + shape.x_shape[1:])
    w = rng.standard_normal(shape.w_shape) / np.sqrt(shape.C * shape.kernel ** 2)
    b = rng.standard_normal(shape.K)
    ref, absref = conv_ref_fast(x, w, b, shape.stride, shape.pad)
    r = rng.standard_normal(ref.shape)
    ref, absref = np.maximum(ref + r, 0), absref + np.abs(r)
    pw = cconv.pack_weights(w, _isa=isa)
    y = cconv.conv2d(x, pw, b, stride=shape.stride, padding=shape.pad, residual=r,
                     activation="relu")
    assert_close(y, ref, absref, shape.C * shape.kernel ** 2)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", cconv.suite.LAYERS, ids=lambda s: s.name)
def test_suite_shapes_into_channel_slice_with_inplace_residual(shape, isa):
    """float32, output written into a channel slice of a wider buffer that also
    holds the residual (residual aliases out exactly)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1,) + shape.x_shape[1:]).astype(np.float32)
    w = (rng.standard_normal(shape.w_shape) / np.sqrt(shape.C * shape.kernel ** 2)).astype(np.float32)
    ref, absref = conv_ref_fast(x, w, None, shape.stride, shape.pad)
    ho, wo = shape.out_hw
    big = rng.standard_normal((1, shape.K + 10, ho, wo)).astype(np.float32)
    sl = big[:, 3:3 + shape.K]
    r0 = sl.copy()
    before = big.copy()
    pw = cconv.pack_weights(w, _isa=isa)
    cconv.conv2d(x, pw, stride=shape.stride, padding=shape.pad, residual=sl, out=sl)
    assert_close(sl, ref + r0, absref + np.abs(r0), shape.C * shape.kernel ** 2)
    np.testing.assert_array_equal(big[:, :3], before[:, :3])
    np.testing.assert_array_equal(big[:, 3 + shape.K:], before[:, 3 + shape.K:])


# (N, C, spatial, K, kernel, stride, pad, dil, groups)
ODD_CASES = [
    # 1x1 GEMM path: K not a multiple of 6, pixel counts not a multiple of 16
    (1, 7, (1, 1), 13, (1, 1), 1, 0, 1, 1),
    (2, 3, (5, 3), 1, (1, 1), 1, 0, 1, 1),
    (1, 300, (3, 7), 11, (1, 1), 1, 0, 1, 1),   # long reduction, 21 pixels
    (1, 17, (17, 17), 7, (1, 1), 1, 0, 1, 1),   # 289 pixels
    (2, 12, (9, 17), 9, (1, 1), 2, 0, 1, 3),    # strided 1x1 with groups
    (1, 5, (8, 9), 6, (1, 1), (3, 2), 0, 1, 1),
    (3, 10, (5, 5), 17, (1, 1), 1, 1, 1, 1),    # padded 1x1 (band path)
    # band path: widths 1-7, padding wider than the input, strides, dilation
    (1, 5, (7, 1), 4, (3, 3), 1, 1, 1, 1),
    (1, 6, (3, 2), 13, (3, 3), 1, (5, 4), 1, 1),
    (2, 4, (6, 5), 8, (3, 3), 1, 1, 1, 1),
    (1, 4, (11, 13), 5, (3, 3), (2, 3), (1, 2), (2, 3), 1),
    (1, 2, (4, 4), 3, (5, 5), 7, 1, 1, 1),     # stride larger than the input
    (1, 33, (3, 40), 12, (2, 7), 1, (3, 9), 1, 1),
    (1, 3, (23, 29), 7, (7, 7), 2, 3, 1, 1),    # conv1-like, odd sizes
    (1, 8, (10, 10), 8, (3, 3), 1, 1, 1, 8),    # depthwise
    (1, 6, (9, 12), 12, (3, 3), 1, 1, 1, 6),    # depthwise, multiplier 2
    (2, 6, (7, 7), 9, (3, 3), 2, 1, 2, 3),      # groups + stride + dilation
    (1, 1, (1, 1), 1, (1, 1), 1, 0, 1, 1),
    (1, 1, (1, 1), 1, (3, 3), 1, 1, 1, 1),
    # stride 2 across (AVX-512: both column phases of an input row from one
    # pass over it): no padding on an odd width, 2x2 taps, padding of two
    # leading zero columns a phase, rows of many vectors
    (1, 16, (9, 35), 32, (3, 3), 2, 0, 1, 1),
    (1, 8, (6, 70), 24, (2, 2), 2, 0, 1, 1),
    (1, 6, (7, 67), 40, (5, 5), 2, 4, 1, 1),
    (1, 3, (5, 301), 64, (3, 3), 2, 1, 1, 1),
    # AVX-512 output-channel-vectorised band path (K/groups >= 24 float32):
    # K not a multiple of the tile's channels, many channel chunks, tiles
    # across row ends; narrow (12 px x 32 oc / float64 8 x 16) and wide
    # (6 x 64 / 6 x 32) tiles, by how K/groups pads
    (2, 37, (13, 11), 41, (3, 5), 2, (2, 1), (1, 2), 1),
    (1, 70, (9, 7), 24, (5, 5), 1, 2, 1, 1),
    (1, 20, (6, 31), 64, (3, 3), 1, 4, 1, 2),   # groups, Kg = 32, pad > tile
    (1, 3, (5, 2), 33, (7, 7), 2, 3, 1, 1),     # fewer pixels than a tile
    (1, 40, (9, 13), 112, (3, 3), 2, 1, 1, 1),  # wide: partial last block, 3 chunks
    (2, 19, (7, 9), 48, (3, 3), 1, 1, 1, 1),    # wide at Kg = 48 (float64: 2 blocks)
    # AVX2 output-channel-vectorised band path (float32, 6 px x 16 oc: Cg *
    # taps >= 1024, K/groups >= 12, not the panel path's): partial last
    # block, several channel chunks, strides, dilation, groups, width 1
    (1, 120, (9, 11), 13, (3, 3), 1, 1, 1, 1),  # 1080 rows, 5 chunks, one partial block
    (2, 48, (7, 6), 40, (5, 5), 2, 2, 1, 1),    # 1200 rows, K = 40: 16 + 16 + 8
    (1, 300, (5, 3), 20, (2, 2), 1, (2, 1), (2, 1), 1),
    (1, 260, (4, 20), 70, (3, 3), 1, 1, 1, 1),  # 2340 rows: past the panel path
    (1, 240, (6, 7), 48, (3, 3), 1, 1, 1, 2),   # groups: Cg = 120, Kg = 24
    (1, 130, (9, 1), 16, (3, 3), 1, 1, 1, 1),   # width 1
    # tiles over output pixels (O_COMPACT): Wo = 13, tiles crossing row ends
    # at every split, stride-2 phases, a last tile of one pixel
    (1, 64, (30, 26), 24, (5, 5), 2, 2, 1, 1),
    # 1x1 GEMM with many output channels (AVX-512: 6 oc x 64 px tiles, the
    # output-channel tile is KxK only): channel chunks with parked partial
    # sums, a partial last tile, N > 1; oc-block-outer order (long C)
    (2, 300, (5, 7), 40, (1, 1), 1, 0, 1, 1),
    (1, 700, (3, 5), 13, (1, 1), 1, 0, 1, 1),
    (1, 70, (3, 7), 520, (1, 1), 1, 0, 1, 1),   # many oc blocks: oc-block-outer too
    (1, 24, (9, 11), 96, (1, 1), 1, 0, 1, 1),   # 99 pixels: one full tile + 35
    # whole tiles read in place by the first oc block's pass, which copies
    # them into the panel for the rest: channel chunks (two), oc-block-outer,
    # oc-block-outer with a 4-pixel tail (68 = 64 + 4)
    (2, 300, (9, 15), 96, (1, 1), 1, 0, 1, 1),
    (1, 700, (9, 9), 20, (1, 1), 1, 0, 1, 1),
    (1, 700, (4, 17), 30, (1, 1), 1, 0, 1, 1),
    (1, 64, (9, 9), 96, (1, 1), 2, 0, 1, 2),    # strided grouped 1x1: gathered panel
    (1, 8, (4, 5), 30, (1, 1), 1, 1, 1, 1),     # padded 1x1 -> band path
    # panel path (AVX-512: Cg * taps <= 160, K/groups >= 64, or >= 32 from at
    # most 4 input channels; float64 128 and 96; AVX2: 2304 and 48, float64
    # 64): the 1x1 tile over per-tile panels copied from the band, tiles
    # spanning row ends
    (1, 3, (17, 19), 32, (3, 3), 2, 1, 1, 1),   # image input, K = 32 (AVX-512 panel)
    (1, 4, (10, 9), 33, (3, 3), 1, 1, 1, 1),    # 4 input channels: the image rule's edge
    (1, 5, (9, 11), 48, (3, 3), 2, 1, 1, 1),    # K = 48 (AVX2 panel float32)
    (1, 3, (23, 29), 64, (7, 7), 2, 3, 1, 1),   # conv1-like: 147 rows, K = 64
    (1, 10, (6, 7), 65, (4, 4), 1, 2, 1, 1),    # exactly 160 panel rows
    (1, 12, (9, 10), 64, (3, 3), 2, 1, 1, 2),   # groups at the edge: Kg = 64, 54 rows
    (1, 11, (6, 7), 64, (4, 4), 1, 2, 1, 1),    # 176 rows: AVX-512 back on its band tiles
    (1, 256, (6, 7), 70, (3, 3), 2, 1, 1, 1),   # exactly 2304 rows (AVX2's last panel)
    (1, 129, (5, 9), 64, (3, 6), 2, (1, 2), 1, 1),  # 2322 rows: AVX2 band tiles again
    (1, 3, (32, 32), 192, (5, 5), 1, 2, 1, 1),  # NIN's first layer
    (2, 3, (13, 11), 100, (3, 3), 2, (1, 2), (1, 2), 1),
    (1, 4, (9, 40), 200, (3, 3), 1, 1, 1, 2),   # groups: Cg = 2, Kg = 100
    (1, 2, (5, 3), 97, (7, 7), 1, 3, 1, 1),     # fewer pixels than a tile
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", ODD_CASES, ids=lambda c: "x".join(map(str, c[2])) + f"-C{c[1]}K{c[3]}k{c[4][0]}")
def test_odd_2d(case, isa, dtype):
    N, C, sp, K, ks, stride, pad, dil, groups = case
    rng = np.random.default_rng(hash(case) % 2**32)
    run_conv_case(rng, isa, dtype, N, C, sp, K, ks, stride, pad, dil, groups, bias=True,
              act="relu", residual=True)
    run_conv_case(rng, isa, dtype, N, C, sp, K, ks, stride, pad, dil, groups, bias=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_odd_1d_3d(isa, dtype):
    rng = np.random.default_rng(3)
    run_conv_case(rng, isa, dtype, 1, 7, (31,), 5, (5,), 3, 2, 2, residual=True)
    run_conv_case(rng, isa, dtype, 2, 9, (40,), 14, (1,), 1, 0, 1)
    run_conv_case(rng, isa, dtype, 1, 3, (5, 6, 7), 4, (3, 2, 3), (2, 1, 2), (1, 1, 0), (2, 1, 1),
              act="relu", residual=True)
    run_conv_case(rng, isa, dtype, 2, 4, (3, 4, 5), 7, (1, 1, 1), 1, 0, 1)
    run_conv_case(rng, isa, dtype, 1, 3, (5, 6, 7), 96, (3, 3, 3), 1, 1, 1, act="relu")  # panel path
    run_conv_case(rng, isa, dtype, 1, 4, (4, 5, 6), 6, (1, 1, 1), (2, 2, 1), 0, 1, groups=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_no_input_channels_gives_the_bias(isa, dtype):
    """C = 0: every output is act(bias + residual), on every path (the AVX-512
    output-channel tile once left such outputs unwritten)."""
    rng = np.random.default_rng(12)
    for K, ks, g, N, sp, st in [(48, (3, 3, 3), 3, 3, (4, 8, 9), 3), (48, (3, 3), 1, 2, (9, 9), 1),
                                (200, (3, 3), 1, 1, (9, 9), 1), (30, (1, 1), 1, 2, (5, 5), 1),
                                (30, (5, 5), 1, 1, (12, 12), 2), (64, (3, 3), 1, 1, (20, 20), 1)]:
        x = np.zeros((N, 0) + sp, dtype)
        w = np.zeros((K, 0) + ks, dtype)
        b = rng.standard_normal(K).astype(dtype)
        fn = CONV[len(sp)]
        y = fn(x, cconv.pack_weights(w, g, _isa=isa), b, stride=st, groups=g, activation="relu")
        r = rng.standard_normal(y.shape).astype(dtype)
        y2 = fn(x, cconv.pack_weights(w, g, _isa=isa), b, stride=st, groups=g, residual=r)
        want = np.broadcast_to(b.reshape((1, K) + (1,) * len(sp)), y.shape)
        np.testing.assert_array_equal(y, np.maximum(want, 0))
        np.testing.assert_array_equal(y2, want + r)


@pytest.mark.parametrize("isa", ISAS)
def test_threads_bitwise_equal_all_paths(isa):
    """1x1 GEMM, KxK band (spatial and output-channel tiles) and strided paths
    give identical bits for 1..4 threads."""
    rng = np.random.default_rng(9)
    for N, C, H, W, K, k, s, p in [(1, 64, 14, 14, 70, 1, 1, 0), (1, 300, 9, 15, 96, 1, 1, 0),
                                   (1, 24, 30, 31, 20, 3, 1, 1),
                                   (2, 16, 29, 29, 13, 3, 2, 1), (1, 3, 45, 45, 16, 7, 2, 3),
                                   (1, 32, 20, 20, 12, 1, 2, 0), (1, 3, 32, 32, 192, 5, 1, 2),
                                   (1, 128, 12, 13, 20, 3, 1, 1)]:
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = rng.standard_normal((K, C, k, k)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32)
        pw = cconv.pack_weights(w, _isa=isa)
        ys = [cconv.conv2d(x, pw, b, stride=s, padding=p, activation="relu", num_threads=t)
              for t in (1, 2, 3, 4)]
        for y in ys[1:]:
            np.testing.assert_array_equal(ys[0], y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_band_tasks_split_for_the_threads(isa, dtype):
    """A KxK call whose band tasks do not divide among the threads (3x3/s2
    128 -> 96 at 56x56: 7 bands on 2 threads) splits its last task's output
    channels over the threads: within the float bound of the float64
    reference with bias, residual and ReLU fused, and the bits of one thread
    on 2, 3 and 4."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((1, 128, 56, 56)).astype(dtype)
    w = (rng.standard_normal((96, 128, 3, 3)) / np.sqrt(128 * 9)).astype(dtype)
    b = rng.standard_normal(96).astype(dtype)
    ref, absref = conv_ref_fast(x, w, b, 2, 1)
    r = rng.standard_normal(ref.shape).astype(dtype)
    pw = cconv.pack_weights(w, _isa=isa)
    kw = dict(stride=2, padding=1, residual=r, activation="relu")
    y1 = cconv.conv2d(x, pw, b, num_threads=1, **kw)
    assert_close(y1, np.maximum(ref + r, 0), absref + np.abs(r), 128 * 9)
    for nt in (2, 3, 4):
        np.testing.assert_array_equal(cconv.conv2d(x, pw, b, num_threads=nt, **kw), y1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_pack_threads_give_the_same_weights(isa, dtype):
    """Weights packed on 1 or 4 threads give identical bits and match the
    float64 reference: spatial 1x1, output-channel KxK, Winograd, grouped."""
    rng = np.random.default_rng(12)
    for C, K, k, g, H in [(512, 300, 1, 1, 9), (64, 256, 3, 1, 12), (128, 520, 3, 4, 9),
                          (96, 128, 5, 1, 7)]:
        x = rng.standard_normal((1, C, H, H)).astype(dtype)
        w = rng.standard_normal((K, C // g, k, k)).astype(dtype)
        assert w.size >= 2 * 65536          # large enough to pack on several threads
        ys = [cconv.conv2d(x, cconv.pack_weights(w, g, num_threads=t, _isa=isa), padding=k // 2,
                           groups=g, num_threads=1) for t in (1, 4)]
        np.testing.assert_array_equal(ys[0], ys[1])
        Cg, Kg = C // g, K // g
        parts = [conv_ref_fast(x[:, i * Cg:(i + 1) * Cg], w[i * Kg:(i + 1) * Kg], None, 1, k // 2)
                 for i in range(g)]
        ref = np.concatenate([r for r, _ in parts], axis=1)
        absref = np.concatenate([a for _, a in parts], axis=1)
        assert_close(ys[0], ref, absref, Cg * k * k)


@pytest.mark.parametrize("isa", ISAS)
def test_raw_and_packed_weights_agree(isa):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 20, 12, 12)).astype(np.float32)
    w = rng.standard_normal((10, 20, 3, 3)).astype(np.float32)
    if isa == cconv._core.isa():
        np.testing.assert_array_equal(cconv.conv2d(x, w, padding=1),
                                      cconv.conv2d(x, cconv.pack_weights(w), padding=1))
    else:
        pytest.skip("raw weights always use the active ISA")


@pytest.mark.parametrize("isa", ISAS)
def test_denormal_inputs_stay_finite_and_close(isa):
    """Denormals are flushed inside the kernels; results stay within the bound
    set by the normal-range terms."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 16, 10, 10)).astype(np.float32)
    x[:, ::2] *= np.float32(1e-39)   # half the channels denormal
    w = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    pw = cconv.pack_weights(w, _isa=isa)
    y = cconv.conv2d(x, pw, padding=1)
    ref, absref = conv_ref(x, w, None, 1, 1)
    assert np.isfinite(y).all()
    # each flushed product is below 1e-38 * |w|: allow that on top of the bound
    slack = 16 * 9 * 1e-38 * np.abs(w).max()
    err = np.abs(y.astype(np.float64) - ref)
    assert (err <= (16 * 9 + 2) * np.finfo(np.float32).eps * absref + slack).all()


# The 1x1 GEMM's blockings: direct unpacked tiles (few oc blocks), channel
# chunks with parked partial sums (Cg > 256), oc-block-outer (large Cg),
# partial tiles and blocks, strides, groups, batch.
IN_PLACE_CASES = [
    # N, C, H, W, K, stride, groups
    (1, 1024, 5, 6, 40, 1, 1),
    (1, 20, 7, 9, 16, 1, 1),
    (2, 300, 5, 13, 64, 1, 1),
    (1, 700, 3, 5, 20, 1, 1),
    (1, 33, 9, 11, 50, 2, 1),
    (3, 24, 6, 5, 30, 1, 3),
    (1, 7, 1, 1, 5, 1, 1),
]


@pytest.mark.parametrize("isa", [i for i in ISAS if i != "portable"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", IN_PLACE_CASES, ids=str)
def test_in_place_1x1_weights_match_packed_bitwise(case, dtype, isa):
    """A one-shot unpadded 1x1 call on few pixels reads the weights in place
    (no pack): the same reduction order as the packed weights, so the same
    bits, and within the float bound of the float64 reference; bias,
    residual, ReLU fused."""
    N, C, H, W, K, s, g = case
    rng = np.random.default_rng(21)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // g, 1, 1)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    ref, absref = conv_ref(x, w, b, s, 0, 1, g)
    r = rng.standard_normal(ref.shape).astype(dtype)
    ref, absref = np.maximum(ref + r, 0), absref + np.abs(r)
    kw = dict(stride=s, groups=g, residual=r, activation="relu")
    inpl = cconv._core.PackedWeights(w, g, _isa=isa, _in_place_1x1=True)
    assert inpl.nbytes == 0
    y = cconv.conv2d(x, inpl, b, **kw)
    assert_close(y, ref, absref, C // g)
    for nt in (1, 2):
        np.testing.assert_array_equal(
            cconv.conv2d(x, inpl, b, num_threads=nt, **kw),
            cconv.conv2d(x, cconv.pack_weights(w, g, _isa=isa), b, num_threads=nt, **kw))


def test_one_shot_1x1_reads_in_place_only_over_few_pixels():
    """What the one-shot call picks: in place at 14x14 (the pack would be a
    tenth of the call), packed at 56x56; the results are the same bits."""
    rng = np.random.default_rng(22)
    w = rng.standard_normal((64, 96, 1, 1)).astype(np.float32)
    for hw in (14, 56):
        x = rng.standard_normal((1, 96, hw, hw)).astype(np.float32)
        np.testing.assert_array_equal(cconv.conv2d(x, w), cconv.conv2d(x, cconv.pack_weights(w)))
    assert cconv._core._ONESHOT_IN_PLACE_MAX_PIXELS == 1024


@pytest.mark.parametrize("isa", [i for i in ISAS if i != "portable"])
def test_in_place_1x1_weights_refuse_a_padded_or_kxk_call(isa):
    w = np.ones((4, 3, 1, 1), np.float32)
    inpl = cconv._core.PackedWeights(w, _isa=isa, _in_place_1x1=True)
    x = np.ones((1, 3, 5, 5), np.float32)
    with pytest.raises(ValueError, match="weight: .*unpadded 1x1"):
        cconv.conv2d(x, inpl, padding=1)
    np.testing.assert_array_equal(cconv.conv2d(x, inpl), np.full((1, 4, 5, 5), 3, np.float32))


def test_in_place_request_is_ignored_where_it_cannot_apply():
    """The portable kernels and KxK weights always pack."""
    w3 = np.ones((4, 3, 3, 3), np.float32)
    assert cconv._core.PackedWeights(w3, _in_place_1x1=True).nbytes > 0
    w1 = np.ones((4, 3, 1, 1), np.float32)
    assert cconv._core.PackedWeights(w1, _isa="portable", _in_place_1x1=True).nbytes > 0


# (N, C, H, W, K, groups): 1x1 layers whose input rows start on cache lines
# when the array does (H*W a multiple of 16 values), around the edges of the
# rule that lets such rows be read in place (at least 64 input channels per
# group, at most 22 blocks of 6 output channels; on Zen 4, AVX-512 float32,
# any number)
ALIGNED_1X1_CASES = [
    (1, 64, 16, 16, 64, 1),    # 4 whole 64-pixel tiles, 11 oc blocks
    (2, 96, 12, 12, 40, 1),    # 144 pixels: a 16-pixel last tile; 2 images
    (1, 128, 8, 8, 132, 1),    # 22 oc blocks, the most read in place
    (1, 128, 8, 8, 133, 1),    # 23: packed panels again (Zen 4 float32: in place)
    (1, 128, 8, 8, 300, 1),    # 50 oc blocks
    (1, 64, 4, 4, 20, 1),      # one partial tile
    (1, 128, 8, 8, 64, 2),     # groups: 64 channels and 32 outputs each
    (1, 63, 16, 16, 64, 1),    # 63 channels: packed panels
    (3, 256, 4, 8, 70, 1),     # 32 pixels, 256 channels
    # rows an odd number of lines apart (AVX2 reads in place only while a
    # tile's column leaves at most 4 lines in an L1 set; the rows above are
    # 16 or 2 lines apart and get packed there)
    (1, 64, 16, 13, 64, 1),    # 13 whole 16-pixel tiles, 11 oc blocks
    (2, 96, 16, 9, 40, 1),     # 2 images, 9 lines a row
    (1, 128, 16, 11, 132, 1),  # 22 oc blocks
    # inputs of 1.5 MiB and more, 8+ oc blocks: on one thread (AVX-512) each
    # tile fetches the next one's rows into L2, across images and groups
    (2, 256, 24, 32, 64, 1),   # 12 whole tiles an image, then the next image
    (1, 512, 24, 32, 100, 2),  # groups of 256 channels and 50 outputs
    (1, 448, 16, 57, 48, 1),   # 912 pixels: the last whole tile fetches a partial one
    # ... and with rows 8 KiB apart or more, each line over two passes
    (1, 96, 64, 64, 100, 1),   # 17 oc blocks, rows 16 KiB apart
    (1, 192, 32, 64, 64, 1),   # 8 KiB (float32: 8-row tiles, 8 passes for 3 lines)
    # outputs of 8 MiB and more from few channels (AVX-512 packed panels):
    # whole tiles by streaming stores
    (1, 16, 128, 256, 64, 1),  # 8 MiB of float32 outputs, 16 channels
    # planes a multiple of 4 KiB apart: past 256 channels (AVX-512) packed
    # panels, since every row's tile would sit at the same page offset
    (1, 320, 32, 32, 64, 1),   # 320 rows at one offset: panels
    (1, 256, 32, 32, 64, 1),   # 256: read in place
]


# (N, C, H, W, K, groups): 1x1 layers of 8, 16 or 32 output channels per
# group (float32 on one thread: any multiple of 8 up to 128 that 6 does not
# divide, from 96 channels, inputs of up to 8 MiB), which AVX-512 runs in 8-channel x 48-pixel (float64: 24) tiles
# read in place, against the 6-channel tiles where a path keeps them (rows
# copied to panels: more than 256 channels on misaligned rows; three threads)
MK8_1X1_CASES = [
    (1, 96, 11, 13, 16, 1),    # 143 pixels: a last tile of 47 (a masked third vector)
    (2, 64, 5, 7, 8, 1),       # 35 pixels, 2 images: only a partial tile
    (1, 64, 9, 9, 32, 2),      # groups of 32 channels and 16 outputs
    (1, 128, 7, 7, 32, 1),     # 49 pixels: a last tile of one pixel; 4 blocks of 8
    (1, 300, 8, 8, 16, 1),     # aligned: 8-row tiles; misaligned: two channel chunks of panels
    # inputs of 1.5 MiB and more on rows that start on cache lines: on one
    # thread each tile fetches the next one's rows into L2 (the weights
    # packed or, for the one-shot call on up to 1024 pixels, read in place)
    (2, 256, 24, 32, 32, 1),   # 16 whole tiles an image, then the next image
    (1, 512, 24, 32, 64, 2),   # groups of 256 channels and 32 outputs
    (1, 448, 16, 61, 16, 1),   # 976 pixels: the last whole tile fetches a partial one
    # one thread, float32: 40 to 128 outputs in 8-row tiles, 6-row on three
    (1, 256, 8, 8, 64, 1),     # 8 blocks of 8 (6-row: 11 blocks, the last of 4)
    (1, 128, 7, 16, 128, 1),   # 16 blocks, 112 pixels: two whole tiles and 16
    (2, 96, 6, 16, 40, 1),     # 5 blocks, 2 images
    (1, 64, 8, 16, 64, 1),     # 64 channels: 6-row tiles
    (1, 256, 4, 16, 128, 2),   # groups of 128 channels and 64 outputs
    (1, 96, 8, 16, 136, 1),    # 136 outputs: 6-row tiles on every thread count
    (1, 64, 8, 16, 120, 1),    # 120 = 20 blocks of 6: 6-row tiles
    (1, 1280, 12, 32, 64, 1),  # 1.9 MiB of input: each tile fetches the next one's rows
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", ALIGNED_1X1_CASES + MK8_1X1_CASES, ids=str)
def test_1x1_aligned_rows_match_misaligned_bitwise(case, isa, dtype):
    """The same 1x1 layer on an input that starts on a cache line (its rows
    may be read in place, no panel copy) and one 16 or 8 bytes past it (rows
    copied to panels, or read in place by the 8-row tiles, which sum in the
    6-row tiles' order): the same reduction order, so the same bits, within
    the float bound of the float64 reference, with bias, residual and ReLU
    fused, written into a channel slice, on 1 and 3 threads."""
    _check_1x1_paths_bitwise(case, isa, dtype)


# (N, C, H, W, K, groups): 1x1 layers whose channel planes are whole cache
# lines, for inputs and outputs that start 4 to 48 bytes into a line: the
# tiles read in place start after the pixels before the first line, which run
# in one tile with the last few; the panel path's output splits its head off
# in a call of its own
LINED_1X1_CASES = [
    (1, 64, 16, 16, 64, 1),    # tiles read in place: head, 3 whole tiles, a partial one
    (2, 96, 8, 16, 40, 1),     # 2 images (each image's rows on lines too)
    (1, 64, 1, 16, 64, 1),     # 16 pixels: the head and the rest in one tile
    (1, 128, 7, 16, 70, 1),    # 112 pixels: a whole tile, the head with the last 48 - hd
    (2, 64, 3, 16, 64, 1),     # 48 pixels an image
    (1, 96, 16, 16, 16, 1),    # 8-row tiles (AVX-512) after the head
    (1, 64, 8, 16, 200, 1),    # 34 oc blocks: panels; the output's head a call of its own
    (1, 32, 16, 16, 24, 1),    # few channels: panels
    (1, 128, 8, 8, 64, 2),     # groups
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", LINED_1X1_CASES, ids=str)
def test_1x1_line_offsets_match_aligned_bitwise(case, isa, dtype):
    """Inputs, outputs (a buffer of the caller's, or the one cconv allocates)
    and residuals starting anywhere in a cache line give the bits of the
    aligned call, within the float bound of the float64 reference; bias,
    residual and ReLU fused, 1 and 2 threads."""
    N, C, H, W, K, g = case
    x, w, b, r, ref, absref = _fused_1x1_case(case, dtype, 33)
    pw = cconv.pack_weights(w, g, _isa=isa)
    kw = dict(groups=g, activation="relu")
    y0 = cconv.conv2d(at_offset(x, 0), pw, b, residual=at_offset(r, 0), num_threads=1, **kw)
    assert_close(y0, ref, absref, C // g)
    offs = (4, 16, 32, 48) if dtype == np.float32 else (8, 16, 32, 48)
    for xo in offs:
        for yo in (0, xo, 64 - xo):
            for nt in (1, 2):
                out = at_offset(np.full(ref.shape, np.nan, dtype), yo)
                cconv.conv2d(at_offset(x, xo), pw, b, residual=at_offset(r, yo), out=out,
                             num_threads=nt, **kw)
                np.testing.assert_array_equal(out, y0)
        y = cconv.conv2d(at_offset(x, xo), pw, b, residual=r, num_threads=2, **kw)
        np.testing.assert_array_equal(y, y0)


# (N, C, H, W, K, groups): 1x1 layers whose last pixel tile holds 1-4 pixels
# (14x14: 196 = 3 * 64 + 4 = 12 * 16 + 4), which the packed weights run with
# the output channels in the lanes (the tail kernel: float32, and float64 on
# AVX-512; AVX-512 float32 holds two oc blocks a vector), in each loop of the
# 1x1 driver
TAIL_1X1_CASES = [
    (1, 1024, 14, 14, 24, 1),  # oc-block-outer panels; the tail joins the panel before it
    (1, 704, 1, 193, 40, 1),   # 1 pixel past 3 * 64; 7 oc blocks: 6 + 1, or (AVX-512
                               # float32, two blocks a vector) one call, its last vector 1 block
    (1, 160, 14, 14, 78, 1),   # 13 oc blocks: 6 + 6 + 1, or 12 (6 vectors of 2) + 1
    (1, 64, 14, 14, 256, 1),   # one channel chunk, 43 oc blocks
    (1, 300, 13, 15, 80, 1),   # 195 pixels, three channel chunks (no tail kernel)
    (1, 96, 14, 14, 16, 1),    # few oc blocks: unpacked rows
    (1, 128, 14, 14, 64, 2),   # groups
    (2, 64, 1, 66, 40, 1),     # 2 images of 66 pixels (2 past 64, 2 past 4 * 16)
    (1, 32, 3, 67, 13, 1),     # 201 pixels, 13 outputs: blocks of 5 and 4 channels
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", TAIL_1X1_CASES, ids=str)
def test_1x1_tail_pixels_match_in_place_bitwise(case, isa, dtype):
    """A last tile of a few pixels (the tail kernel, packed weights) gives the
    bits of the spatial tile (weights read in place by the one-shot call, and
    the aligned and misaligned inputs), within the float bound of the
    float64 reference; bias, residual, ReLU, a channel slice, 1 and 3
    threads."""
    _check_1x1_paths_bitwise(case, isa, dtype)
    if isa == "portable":
        return
    N, C, H, W, K, g = case
    rng = np.random.default_rng(32)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // g, 1, 1)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    r = rng.standard_normal((N, K, H, W)).astype(dtype)
    kw = dict(groups=g, residual=r, activation="relu")
    inpl = cconv._core.PackedWeights(w, g, _isa=isa, _in_place_1x1=True)
    for nt in (1, 2):
        np.testing.assert_array_equal(
            cconv.conv2d(x, inpl, b, num_threads=nt, **kw),
            cconv.conv2d(x, cconv.pack_weights(w, g, _isa=isa), b, num_threads=nt, **kw))


# (N, C, H, W, K, groups): 1x1 layers of 8 MiB and more a call (input and
# output), or 1.5 MiB of input on one thread, where a thread of the AVX2
# kernels fetches the rows of its next task (its task + threads) into L2
# while it runs one: the next panel or run of tiles of an image, the next
# image's first, the next group's
TASK_FETCH_1X1_CASES = [
    (3, 64, 56, 56, 256, 1),    # panels: 13 an image, 9.6 MB of output
    (2, 128, 64, 64, 256, 2),   # panels, groups of 64 -> 128
    (1, 256, 56, 56, 64, 1),    # panels, 3.2 MB of input: one thread fetches
    (4, 96, 55, 55, 16, 1),     # the direct path (3 oc blocks), 4.6 MB of input
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", TASK_FETCH_1X1_CASES, ids=str)
def test_1x1_large_calls_fetching_the_next_task(case, isa, dtype):
    """Large 1x1 calls (the fetch ahead on AVX2) stay within
    the float bound of the float64 reference with bias, residual and ReLU
    fused, and give the same bits on 1, 2 and 3 threads (each fetching for
    a different next task)."""
    N, C, H, W, K, g = case
    x, w, b, r, ref, absref = _fused_1x1_case(case, dtype, 41)
    pw = cconv.pack_weights(w, g, _isa=isa)
    kw = dict(groups=g, residual=r, activation="relu")
    y1 = cconv.conv2d(x, pw, b, num_threads=1, **kw)
    assert_close(y1, ref, absref, C // g)
    for nt in (2, 3):
        np.testing.assert_array_equal(cconv.conv2d(x, pw, b, num_threads=nt, **kw), y1)


def _fused_1x1_case(case, dtype, seed):
    """Input, weights, bias and residual of a 1x1 case (N, C, H, W, K,
    groups), with the float64 reference of relu(conv + bias + residual) and
    its magnitude bound."""
    N, C, H, W, K, g = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // g, 1, 1)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    # a grouped 1x1 layer is g independent ones on its channel slices
    Cg, Kg = C // g, K // g
    parts = [conv_ref_fast(x[:, i * Cg:(i + 1) * Cg], w[i * Kg:(i + 1) * Kg], b[i * Kg:(i + 1) * Kg])
             for i in range(g)]
    ref = np.concatenate([q[0] for q in parts], axis=1)
    absref = np.concatenate([q[1] for q in parts], axis=1)
    r = rng.standard_normal(ref.shape).astype(dtype)
    return x, w, b, r, np.maximum(ref + r, 0), absref + np.abs(r)


def _check_1x1_paths_bitwise(case, isa, dtype):
    N, C, H, W, K, g = case
    x, w, b, r, ref, absref = _fused_1x1_case(case, dtype, 31)
    pw = cconv.pack_weights(w, g, _isa=isa)
    ys = []
    for off in (0, x.itemsize * 2, x.itemsize):
        xo = at_offset(x, off)
        for nt in (1, 3):
            big = np.zeros((N, K + 5, H, W), dtype)
            sl = big[:, 2:2 + K]
            sl[...] = r
            cconv.conv2d(xo, pw, b, groups=g, residual=sl, activation="relu", out=sl,
                         num_threads=nt)
            assert not big[:, :2].any() and not big[:, 2 + K:].any()
            ys.append(sl.copy())
        if isa == cconv._core.isa():
            # a one-shot call (raw weights: read in place up to 1024 pixels),
            # on the default threads and on one
            for nt in (None, 1):
                ys.append(cconv.conv2d(xo, w, b, groups=g, residual=r, activation="relu",
                                       num_threads=nt))
    assert_close(ys[0], ref, absref, C // g)
    for y in ys[1:]:
        np.testing.assert_array_equal(ys[0], y)

"""Depthwise layers (one input and one output channel a group): the AVX2 and
AVX-512 kernel sets run them through their own loop (src/conv_dw_template.h:
a zero-padded band of rows per channel, stride-2 rows split into column
phases, blocks of four vectors of a row or one vector of four rows).  Checked
against the float64 references of tests/reference.py on every kernel set,
never against cconv itself."""
import numpy as np
import pytest

import cconv
from reference import assert_close, conv_ref, kernel_isas, run_conv_case

ISAS = kernel_isas()

# (N, C, spatial, kernel, stride, pad, dil)
CASES = [
    (1, 8, (10, 10), (3, 3), 1, 1, 1),
    (2, 5, (9, 13), (3, 3), 1, 1, 1),       # one vector a row: blocks of rows
    (1, 3, (14, 14), (3, 3), 1, 1, 1),      # 14 rows: a last block of 2 rows
    (1, 4, (17, 70), (3, 3), 1, 1, 1),      # rows of several vectors and a tail
    (1, 3, (12, 129), (3, 3), 1, 1, 1),     # 129 wide: whole 4-vector blocks + 1 pixel
    (1, 7, (17, 33), (3, 3), 2, 1, 1),      # stride 2: column phases
    (1, 4, (23, 19), (5, 5), 2, 2, 1),
    (1, 3, (11, 40), (3, 3), 2, 0, 1),      # stride 2, no padding, even width
    (1, 3, (9, 31), (3, 3), 3, 1, 1),       # stride 3: the gather path
    (1, 6, (12, 12), (7, 7), 1, 3, 1),      # ConvNeXt's 7x7
    (1, 2, (30, 41), (3, 3), 1, 2, 2),      # dilation
    (1, 2, (25, 60), (7, 7), 1, 9, 3),      # a tap shift past one vector
    (1, 2, (5, 3), (3, 3), 1, 4, 1),        # padding wider than the image
    (1, 3, (1, 40), (1, 3), 1, (0, 1), 1),  # one row
    (1, 3, (9, 1), (3, 1), 1, (1, 0), 1),   # one column
    (1, 2, (11, 9), (2, 2), 1, 0, 1),       # even taps
    (1, 3, (9, 31), (1, 5), 1, (0, 2), 1),
    (2, 3, (13, 11), (3, 5), (2, 1), (2, 1), (1, 2)),
    (1, 4, (8, 8), (3, 3), 3, 1, 1),
    (1, 2, (9, 40), (3, 2), (2, 5), 1, 1),  # stride 5, 2 taps across: 2 of 5 column phases
    (1, 2, (6, 50), (2, 3), (1, 4), 1, 2),  # taps on columns 0, 2, 4 of stride 4: phases 0, 2
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[2])) + f"-C{c[1]}k{c[3]}s{c[4]}")
def test_depthwise_2d(case, isa, dtype):
    N, C, sp, ks, stride, pad, dil = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    run_conv_case(rng, isa, dtype, N, C, sp, C, ks, stride, pad, dil, groups=C, bias=True,
                  act="relu", residual=True)
    run_conv_case(rng, isa, dtype, N, C, sp, C, ks, stride, pad, dil, groups=C, bias=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_depthwise_many_bands_and_threads(isa, dtype):
    """Planes larger than one band (48 KiB of prepared rows) split into bands
    whose halo rows are prepared again; the result is bitwise the same on 1
    and 3 threads."""
    rng = np.random.default_rng(7)
    y1 = run_conv_case(rng, isa, dtype, 2, 3, (150, 300), 3, (3, 3), 1, 1, 1, groups=3,
                       residual=True, threads=1)
    rng = np.random.default_rng(7)
    y3 = run_conv_case(rng, isa, dtype, 2, 3, (150, 300), 3, (3, 3), 1, 1, 1, groups=3,
                       residual=True, threads=3)
    np.testing.assert_array_equal(y1, y3)
    run_conv_case(rng, isa, dtype, 1, 2, (161, 99), 2, (5, 5), 2, 2, 1, groups=2, act="relu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_depthwise_1d_and_3d(isa, dtype):
    """conv1d with groups = C, and conv3d with a kernel one plane deep (its
    depth stride and padding: planes past the input give act(bias +
    residual))."""
    rng = np.random.default_rng(9)
    run_conv_case(rng, isa, dtype, 2, 6, (50,), 6, (5,), 1, 2, 1, groups=6, residual=True)
    run_conv_case(rng, isa, dtype, 1, 4, (37,), 4, (3,), 2, 1, 2, groups=4, act="relu")
    run_conv_case(rng, isa, dtype, 1, 5, (4, 9, 11), 5, (1, 3, 3), (2, 1, 1), (1, 1, 1), 1,
                  groups=5, act="relu", residual=True)
    run_conv_case(rng, isa, dtype, 2, 3, (3, 6, 20), 3, (1, 3, 3), 1, (2, 1, 1), 1, groups=3)


@pytest.mark.parametrize("isa", ISAS)
def test_depthwise_huge_dilation_takes_the_band_path(isa):
    """A dilation whose one output row would need a band of megabytes of
    mostly zero rows runs through the band path on weights packed for the
    call: the same results as the reference."""
    rng = np.random.default_rng(12)
    run_conv_case(rng, isa, np.float64, 1, 2, (5, 9), 2, (3, 3), 1, (40000, 1), (40000, 1),
                  groups=2, residual=True)
    run_conv_case(rng, isa, np.float32, 1, 3, (4, 7), 3, (2, 3), (1, 2), (30000, 2), (60000, 1),
                  groups=3, act="relu")


@pytest.mark.parametrize("isa", ISAS)
def test_depthwise_into_channel_slice_with_inplace_residual(isa):
    """The output a channel slice of a wider buffer that also holds the
    residual (residual is out): the lanes of a row's last vector past the
    row and the channels around the slice stay as they were."""
    rng = np.random.default_rng(4)
    C, H, W = 6, 13, 21
    x = rng.standard_normal((1, C, H, W)).astype(np.float32)
    w = rng.standard_normal((C, 1, 3, 3)).astype(np.float32)
    ref, absref = conv_ref(x, w, None, 1, 1, 1, C)
    big = rng.standard_normal((1, C + 5, H, W)).astype(np.float32)
    before = big.copy()
    sl = big[:, 2:2 + C]
    r0 = sl.copy()
    cconv.conv2d(x, cconv.pack_weights(w, C, _isa=isa), padding=1, groups=C, residual=sl, out=sl)
    assert_close(sl, ref + r0, absref + np.abs(r0), 9)
    np.testing.assert_array_equal(big[:, :2], before[:, :2])
    np.testing.assert_array_equal(big[:, 2 + C:], before[:, 2 + C:])


@pytest.mark.parametrize("isa", ISAS)
def test_depthwise_nan_and_inf_stay_in_their_windows(isa):
    """A NaN or Inf input reaches exactly the outputs whose window holds it."""
    x = np.ones((1, 2, 9, 40), np.float32)
    x[0, 0, 4, 20] = np.nan
    x[0, 1, 0, 0] = np.inf
    w = np.ones((2, 1, 3, 3), np.float32)
    y = cconv.conv2d(x, cconv.pack_weights(w, 2, _isa=isa), padding=1, groups=2)
    nan = np.zeros((9, 40), bool)
    nan[3:6, 19:22] = True
    np.testing.assert_array_equal(np.isnan(y[0, 0]), nan)
    inf = np.zeros((9, 40), bool)
    inf[0:2, 0:2] = True
    np.testing.assert_array_equal(np.isinf(y[0, 1]), inf)
    # elsewhere the count of taps inside the image
    count, _ = conv_ref(np.ones((1, 1, 9, 40)), np.ones((1, 1, 3, 3)), None, 1, 1)
    np.testing.assert_array_equal(y[0, 1][~inf], count[0, 0][~inf])

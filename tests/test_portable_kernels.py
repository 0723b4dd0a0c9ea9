"""The portable kernels (src/conv_generic.h) at the edges of their own
blocking: interior chunks of 8 float32 / 4 float64 pixels x 4 channels in
registers, the interior's remaining pixels in groups (4 float32), edge pixels
one at a time, a chunk's input copied before several channel blocks read it.  References are float64 SciPy
(tests/reference.py); the bitwise checks compare the kernel's two paths with
each other, which its design says must agree."""
import numpy as np
import pytest

import cconv
from reference import run_conv_case

# (N, C, spatial, K, kernel, stride, pad, dil, groups)
CASES = [
    # 3x3 pad 1: interiors of 0-17 pixels around a chunk (W - 2)
    *[(1, 3, (3, w), 5, (3, 3), 1, 1, 1, 1) for w in (2, 3, 5, 6, 7, 9, 10, 11, 13, 17, 18, 19)],
    (2, 5, (4, 21), 12, (3, 3), 2, 1, 1, 1),       # stride 2: gathered chunks
    (1, 3, (3, 27), 5, (3, 3), 2, 1, 1, 1),        # stride 2: a chunk, then a group of 4
    (1, 9, (7, 7), 20, (3, 3), 1, 1, 1, 1),        # 7x7: interior of 5, no chunk
    (1, 4, (5, 30), 9, (3, 3), (1, 3), (1, 2), (1, 2), 1),  # stride 3, dilation 2
    (1, 6, (6, 26), 16, (3, 5), 1, (1, 2), 1, 2),  # groups
    (1, 8, (5, 20), 8, (3, 3), 1, 1, 1, 8),        # depthwise
    (1, 3, (2, 3), 4, (3, 3), 1, 4, 1, 1),         # padding wider than the input
    (1, 4, (3, 12), 66, (3, 3), 1, 1, 1, 1),       # 9 blocks: stride-1 chunks copied
    # pointwise: one block (read in place), 2+ blocks (copied), a partial
    # block, strided and padded 1x1, the long row's last partial chunk
    (1, 7, (3, 5), 8, (1, 1), 1, 0, 1, 1),
    (1, 7, (3, 5), 16, (1, 1), 1, 0, 1, 1),
    (2, 19, (5, 7), 21, (1, 1), 1, 0, 1, 1),
    (1, 10, (7, 33), 17, (1, 1), 2, 0, 1, 1),
    (1, 6, (4, 19), 12, (1, 1), 1, 1, 1, 1),
    (1, 12, (5, 9), 18, (1, 1), (1, 2), 0, 1, 3),
]


def _run(case, dtype, rng, **kw):
    N, C, sp, K, ks, stride, pad, dil, groups = case
    run_conv_case(rng, "portable", dtype, N, C, sp, K, ks, stride, pad, dil, groups, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[2]))
                         + f"-C{c[1]}K{c[3]}k{c[4][0]}x{c[4][1]}s{c[5]}")
def test_portable_chunks_and_edges(case, dtype):
    rng = np.random.default_rng(21)
    _run(case, dtype, rng, residual=True, act="relu")
    _run(case, dtype, rng, bias=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_portable_conv1d_and_conv3d_chunks(dtype):
    rng = np.random.default_rng(22)
    _run((2, 5, (23,), 10, (3,), 1, 1, 1, 1), dtype, rng, residual=True, act="relu")
    _run((1, 4, (3, 4, 14), 9, (2, 3, 3), 1, (0, 1, 1), 1, 1), dtype, rng, residual=True)
    _run((1, 3, (4, 5, 19), 6, (3, 1, 1), (1, 1, 2), (1, 0, 0), (2, 1, 1), 1), dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_portable_pixel_path_matches_chunks_bitwise(dtype):
    """An output computed by an edge pixel equals the same output computed
    inside a chunk, bit for bit: the terms are added in the same order."""
    rng = np.random.default_rng(23)
    cw = 32 // np.dtype(dtype).itemsize
    # 1x1: a long row of cw + 3 pixels (the last 3 by the pixel path)
    # against the row from pixel 3 on (all in one chunk), copied and not
    for K in (4, 8, 20):
        x = rng.standard_normal((1, 11, 1, cw + 3)).astype(dtype)
        pw = cconv.pack_weights(rng.standard_normal((K, 11, 1, 1)).astype(dtype), _isa="portable")
        a = cconv.conv2d(x, pw)
        b = cconv.conv2d(np.ascontiguousarray(x[..., 3:]), pw)
        np.testing.assert_array_equal(a[..., cw:], b[..., cw - 3:])
    # 1x3 with a zero column of padding (edge pixel, two taps) against the
    # same zero as data (a chunk pixel, three taps, one of them zero)
    x = rng.standard_normal((1, 6, 2, 2 * cw)).astype(dtype)
    w = rng.standard_normal((9, 6, 1, 3)).astype(dtype)
    pw = cconv.pack_weights(w, _isa="portable")
    padded = cconv.conv2d(x, pw, padding=(0, 1))
    explicit = cconv.conv2d(np.pad(x, [(0, 0), (0, 0), (0, 0), (1, 1)]), pw)
    np.testing.assert_array_equal(padded, explicit)

"""cconv.conv1x1_chain: a run of 1x1 convolutions in one call (NIN's cccp
layers), against a float64 NumPy reference, on every ISA; bitwise equal to
conv2d layer by layer; its error cases; and its use inside nn.Sequential."""
import numpy as np
import pytest

import cconv
from cconv import nn
from reference import assert_close, kernel_isas

ISAS = kernel_isas()


def chain_ref(x, ws, bs, acts):
    """float64 reference and the chained magnitude bound |W_L|(...|W_1||x| + |b_1|...) + |b_L|.

    A layer's rounding error, bounded by (C_i + 2) eps times its magnitude,
    reaches the output through |W| of the later layers, so the output error is
    at most (sum C_i + 2 L) eps times the chained magnitude (ReLU only shrinks
    errors): the bound assert_close(..., terms=sum C_i + 2 (L - 1)) checks."""
    h = x.astype(np.float64)
    a = np.abs(h)
    for w, b, act in zip(ws, bs, acts):
        w2 = w[:, :, 0, 0].astype(np.float64)
        h = np.einsum("kc,nchw->nkhw", w2, h)
        a = np.einsum("kc,nchw->nkhw", np.abs(w2), a)
        if b is not None:
            h = h + b.astype(np.float64)[None, :, None, None]
            a = a + np.abs(b.astype(np.float64))[None, :, None, None]
        if act == "relu":
            h = np.maximum(h, 0)
    return h, a


def _layers(rng, chans, dtype, bias_mask=None):
    ws = [(rng.standard_normal((k, c, 1, 1)) / np.sqrt(c)).astype(dtype)
          for c, k in zip(chans[:-1], chans[1:])]
    bs = [rng.standard_normal(k).astype(dtype) if (bias_mask is None or bias_mask[i]) else None
          for i, k in enumerate(chans[1:])]
    return ws, bs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("N,chans,hw,acts", [
    (1, (192, 160, 96), (32, 32), "relu"),          # NIN's first block cccp layers
    (2, (7, 13, 5), (7, 9), ["relu", None]),        # 63 pixels: one partial tile
    (1, (30, 70, 11, 40), (5, 13), [None, "relu", "relu"]),  # 65 pixels: a tile + 1
    (3, (5, 1), (1, 1), None),                      # one layer, one pixel
])
def test_matches_float64_reference(N, chans, hw, acts, isa, dtype):
    rng = np.random.default_rng(len(chans) * 100 + hw[1])
    x = rng.standard_normal((N, chans[0]) + hw).astype(dtype)
    nl = len(chans) - 1
    ws, bs = _layers(rng, chans, dtype, bias_mask=[i % 2 == 0 for i in range(nl)])
    pws = [cconv.pack_weights(w, _isa=isa) for w in ws]
    y = cconv.conv1x1_chain(x, pws, bs, activation=acts)
    al = acts if isinstance(acts, list) else [acts] * nl
    ref, absref = chain_ref(x, ws, bs, al)
    assert y.shape == ref.shape and y.dtype == dtype
    assert_close(y, ref, absref, sum(chans[:-1]) + 2 * (nl - 1))
    # the layers one conv2d at a time give the same bits
    h = x
    for w, b, a in zip(pws, bs, al):
        h = cconv.conv2d(h, w, b, activation=a)
    np.testing.assert_array_equal(y, h)


@pytest.mark.parametrize("isa", ISAS)
def test_long_chain_raw_weights_unbatched_and_out_slice(isa):
    """More layers than one kernel call takes (8), raw weight arrays, an
    unbatched input, written into a channel slice of a wider buffer."""
    rng = np.random.default_rng(4)
    chans = (12, 20, 9, 14, 6, 17, 8, 10, 11, 13, 7)   # 10 layers
    ws, bs = _layers(rng, chans, np.float32)
    x = rng.standard_normal((12, 6, 11)).astype(np.float32)
    big = np.full((20, 6, 11), 7.0, np.float32)
    sl = big[3:10]
    got = cconv.conv1x1_chain(x, ws, bs, activation="relu", out=sl)
    assert got is sl
    ref, absref = chain_ref(x[None], ws, bs, ["relu"] * 10)
    assert_close(sl, ref[0], absref[0], sum(chans[:-1]) + 18)
    assert (big[:3] == 7).all() and (big[10:] == 7).all()


def test_empty_batch_and_zero_channels():
    """N = 0 gives an empty result; a layer with no input channels gives its bias."""
    rng = np.random.default_rng(1)
    ws, bs = _layers(rng, (4, 3, 2), np.float32)
    assert cconv.conv1x1_chain(np.ones((0, 4, 3, 3), np.float32), ws, bs).shape == (0, 2, 3, 3)
    w0 = np.ones((0, 4, 1, 1), np.float32)
    w1 = np.ones((5, 0, 1, 1), np.float32)
    b1 = np.arange(5, dtype=np.float32) - 2
    y = cconv.conv1x1_chain(np.ones((1, 4, 3, 3), np.float32), [w0, w1], [None, b1],
                            activation="relu")
    np.testing.assert_array_equal(y, np.broadcast_to(np.maximum(b1, 0)[None, :, None, None],
                                                     (1, 5, 3, 3)))


@pytest.mark.parametrize("isa", ISAS)
def test_threads_bitwise_equal(isa):
    rng = np.random.default_rng(8)
    ws, bs = _layers(rng, (40, 50, 30), np.float32)
    pws = [cconv.pack_weights(w, _isa=isa) for w in ws]
    x = rng.standard_normal((2, 40, 17, 19)).astype(np.float32)
    ys = [cconv.conv1x1_chain(x, pws, bs, activation="relu", num_threads=t) for t in (1, 2, 3)]
    np.testing.assert_array_equal(ys[0], ys[1])
    np.testing.assert_array_equal(ys[0], ys[2])


def test_errors_name_the_argument():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8, 4, 4)).astype(np.float32)
    ws, bs = _layers(rng, (8, 6, 5), np.float32)
    with pytest.raises(TypeError, match="weights"):
        cconv.conv1x1_chain(x, [])
    with pytest.raises(TypeError, match="weights"):
        cconv.conv1x1_chain(x, ws[0])
    with pytest.raises(ValueError, match=r"weights\[1\] expects 8 input channels"):
        cconv.conv1x1_chain(x, [ws[0], ws[0]])
    with pytest.raises(ValueError, match=r"weights\[0\] expects 8 input channels, but x has 3"):
        cconv.conv1x1_chain(x[:, :3], ws)
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(K, C, 1, 1\)"):
        cconv.conv1x1_chain(x, [np.ones((6, 8, 3, 3), np.float32)])
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(K, C, 1, 1\)"):
        cconv.conv1x1_chain(x, [np.ones((6, 8), np.float32)])
    with pytest.raises(ValueError, match=r"weights\[0\]: a 1x1 chain takes groups=1"):
        cconv.conv1x1_chain(x, [cconv.pack_weights(np.ones((6, 4, 1, 1), np.float32), groups=2)])
    with pytest.raises(TypeError, match=r"weights\[1\] has dtype float64"):
        cconv.conv1x1_chain(x, [ws[0], ws[1].astype(np.float64)])
    with pytest.raises(ValueError, match="biases must have one entry per layer"):
        cconv.conv1x1_chain(x, ws, [bs[0]])
    with pytest.raises(TypeError, match="biases must be None or a list"):
        cconv.conv1x1_chain(x, ws, bs[0])
    with pytest.raises(ValueError, match=r"biases\[1\] must have shape \(5,\)"):
        cconv.conv1x1_chain(x, ws, [bs[0], bs[0]])
    with pytest.raises(TypeError, match=r"biases\[0\] has dtype float64"):
        cconv.conv1x1_chain(x, ws, [bs[0].astype(np.float64), None])
    with pytest.raises(ValueError, match=r"activation\[1\] must be None or 'relu'"):
        cconv.conv1x1_chain(x, ws, activation=["relu", "tanh"])
    with pytest.raises(ValueError, match="activation must have one entry per layer"):
        cconv.conv1x1_chain(x, ws, activation=["relu"])
    with pytest.raises(ValueError, match="out has shape"):
        cconv.conv1x1_chain(x, ws, out=np.empty((1, 6, 4, 4), np.float32))
    with pytest.raises(ValueError, match="out overlaps x"):
        cconv.conv1x1_chain(x, [np.eye(8, dtype=np.float32)[:, :, None, None]], out=x)
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        cconv.conv1x1_chain(x[0, 0], ws)
    with pytest.raises(ValueError, match="x: the 1x1 kernel is larger than the input's 0x4 image"):
        cconv.conv1x1_chain(x[:, :, :0], ws)
    with pytest.raises(TypeError, match="x: unsupported dtype int64"):
        cconv.conv1x1_chain(x.astype(np.int64), ws)


def test_sequential_runs_1x1_runs_as_a_chain_with_a_residual():
    """nn.Sequential turns a run of 1x1 conv(+ReLU) steps into one chain call;
    a Residual around it still adds the shortcut inside the last conv."""
    rng = np.random.default_rng(2)
    body = nn.Sequential(nn.Conv2d(16, 24, 1, rng=rng), nn.ReLU(), nn.Conv2d(24, 20, 1, rng=rng),
                         nn.ReLU(), nn.Conv2d(20, 16, 1, rng=rng))
    for i in (0, 2, 4):
        body[i].bias = rng.standard_normal(body[i].out_channels)
    block = nn.Residual(body).prepare()
    assert [s[0] for s in body._steps()] == [nn._CHAIN]
    x = rng.standard_normal((2, 16, 9, 7)).astype(np.float32)
    ws = [body[i].weight for i in (0, 2, 4)]
    bs = [body[i].bias for i in (0, 2, 4)]
    h, a = chain_ref(x, ws, bs, ["relu", "relu", None])
    ref, absref = np.maximum(h + x, 0), a + np.abs(x)
    assert_close(block(x), ref, absref, 16 + 24 + 20 + 4)
    assert_close(body(x), h, a, 16 + 24 + 20 + 4)
    np.testing.assert_array_equal(block(x), block.fuse(False)(x))

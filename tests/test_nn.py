"""cconv.nn layers against float64 NumPy/SciPy references (always) and torch.nn (when installed).

Single layers use the per-output float error bound of reference.assert_close
(terms = the reduction length).  Compositions (fused vs unfused, containers)
are compared with a bound for the composed computation: float64 runs to
1e-12 of the output's scale, float32 runs to 1e-4 (a few layers of K <= 5000
reductions at eps=1.2e-7 each).
"""
import numpy as np
import pytest

import cconv
from cconv import nn
from reference import assert_close, conv_ref, conv_ref_fast, pool_ref


def rel_err(y, ref):
    return float(np.max(np.abs(np.asarray(y, np.float64) - ref)) / np.max(np.abs(ref)))


@pytest.fixture
def spy(monkeypatch):
    """Record the keyword arguments of every cconv.conv2d call made by the layers."""
    calls = []
    real = cconv.conv2d

    def conv2d(x, w, b=None, **kw):
        calls.append(dict(kw, x_shape=x.shape))
        return real(x, w, b, **kw)
    monkeypatch.setattr(cconv, "conv2d", conv2d)
    return calls


def forbid_concatenate(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("np.concatenate called")
    monkeypatch.setattr(np, "concatenate", boom)


def randomize_bn(bn, rng):
    n = bn.num_features
    bn.weight = rng.uniform(0.5, 1.5, n)
    bn.bias = rng.normal(0, 0.3, n)
    bn.running_mean = rng.normal(0, 0.3, n)
    bn.running_var = rng.uniform(0.5, 1.5, n)


# ----------------------------------------------------------------------------- Conv2d

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,stride,pad", [(1, 1, 0), (3, 1, 1), (3, 2, 1), (5, 1, 2), (7, 2, 3)])
def test_conv2d_matches_reference(rng, dtype, k, stride, pad):
    conv = nn.Conv2d(6, 10, k, stride=stride, padding=pad, dtype=dtype, seed=1)
    conv.bias = rng.standard_normal(10)
    x = rng.standard_normal((2, 6, 13, 11)).astype(dtype)
    y = conv(x)
    assert y.dtype == dtype
    ref, absref = conv_ref_fast(x, conv.weight, conv.bias, stride, pad)
    assert_close(y, ref, absref, 6 * k * k)


def test_conv2d_groups_dilation_relu(rng):
    conv = nn.Conv2d(6, 4, 3, padding=2, dilation=2, groups=2, activation="relu", seed=3)
    conv.bias = rng.standard_normal(4)
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)
    ref, absref = conv_ref(x, conv.weight, conv.bias, padding=2, dilation=2, groups=2, activation="relu")
    assert_close(conv(x), ref, absref, 3 * 9)


def test_conv2d_he_init_seeded():
    a = nn.Conv2d(64, 128, 3, seed=7)
    b = nn.Conv2d(64, 128, 3, seed=7)
    c = nn.Conv2d(64, 128, 3, seed=8)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, c.weight)
    std = np.sqrt(2.0 / (64 * 9))
    assert abs(a.weight.std() / std - 1) < 0.05
    assert abs(a.weight.mean()) < 0.05 * std
    np.testing.assert_array_equal(a.bias, 0)
    r = np.random.default_rng(3)
    d = nn.Conv2d(64, 128, 3, rng=r)
    assert d.weight.shape == (128, 64, 3, 3) and d.weight.dtype == np.float32


def _direct_bytes(w):
    return cconv._core.PackedWeights(w, 1, _direct_only=True).nbytes


@pytest.mark.skipif(cconv._core.isa() == "portable", reason="no Winograd kernels on this ISA")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, padding", [(3, 1), (5, "same")])
def test_conv2d_adds_winograd_weights_when_a_call_takes_them(rng, dtype, k, padding):
    """A 3x3 (5x5) layer packs its direct layout only, and adds the Winograd layout
    at the first call that takes Winograd; a layer Winograd cannot serve
    (stride 2) never does.  Each call gives what conv2d gives with weights
    packed by pack_weights (which packs both layouts), bit for bit, and meets
    the float64 reference."""
    pad = k // 2
    conv = nn.Conv2d(16, 24, k, padding=padding, dtype=dtype, seed=0)
    conv.bias = rng.standard_normal(24)
    direct = _direct_bytes(conv.weight)
    full = cconv.pack_weights(conv.weight)
    assert full.nbytes > direct
    assert conv.packed_weight.nbytes == direct              # before any call
    for hw, wino in [(4, False), (40, True), (4, True)]:     # too small, large, small again
        x = rng.standard_normal((1, 16, hw, hw)).astype(dtype)
        y = conv(x)
        assert conv.packed_weight.nbytes == (full.nbytes if wino else direct)
        np.testing.assert_array_equal(y, cconv.conv2d(x, full, conv.bias, padding=pad))
        ref, absref = conv_ref_fast(x, conv.weight, conv.bias, 1, pad)
        assert_close(y, ref, absref, k * k * 16)
    strided = nn.Conv2d(16, 24, k, stride=2, padding=pad, dtype=dtype, seed=0)
    x = rng.standard_normal((1, 16, 40, 40)).astype(dtype)
    ref, absref = conv_ref_fast(x, strided.weight, None, 2, pad)
    assert_close(strided(x), ref, absref, k * k * 16)
    assert strided.packed_weight.nbytes == _direct_bytes(strided.weight)


def test_conv2d_weight_replacement_repacks(rng):
    conv = nn.Conv2d(4, 5, 3, padding=1, seed=0)
    x = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    conv(x)
    p0 = conv.packed_weight
    assert isinstance(p0, cconv.PackedWeights) and p0.shape == (5, 4, 3, 3)
    w = rng.standard_normal((5, 4, 3, 3))
    conv.weight = w
    assert conv.packed_weight is not p0
    ref, absref = conv_ref_fast(x, conv.weight, conv.bias, 1, 1)
    assert_close(conv(x), ref, absref, 36)
    conv.bias = np.arange(5.0)
    ref, absref = conv_ref_fast(x, conv.weight, conv.bias, 1, 1)
    assert_close(conv(x), ref, absref, 36)


def test_conv2d_parameters_are_read_only_and_shape_checked():
    conv = nn.Conv2d(4, 5, 3)
    with pytest.raises(ValueError, match="read-only"):
        conv.weight[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError, match=r"Conv2d.weight: expected shape \(5, 4, 3, 3\), got \(5, 4, 1, 1\)"):
        conv.weight = np.zeros((5, 4, 1, 1))
    nb = nn.Conv2d(4, 5, 3, bias=False)
    assert nb.bias is None
    with pytest.raises(ValueError, match="bias is disabled"):
        nb.bias = np.zeros(5)


def test_conv2d_bad_input_messages():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"expected input with 3 channels, got 4"):
        conv(np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        conv(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="too small"):
        conv.output_shape((1, 3, 2, 2))


def test_conv2d_bad_construction():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="activation"):
        nn.Conv2d(3, 8, 3, activation="gelu")
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Conv2d(3, 8, 3, dtype=np.float16)
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")


def test_conv2d_casts_input_to_its_dtype(rng):
    conv = nn.Conv2d(3, 4, 1)
    x = rng.standard_normal((1, 3, 5, 5))
    y = conv(x)
    assert y.dtype == np.float32
    ref, absref = conv_ref_fast(x.astype(np.float32), conv.weight, conv.bias)
    assert_close(y, ref, absref, 3)


def test_conv2d_padding_same_valid(rng):
    x = rng.standard_normal((1, 2, 7, 7)).astype(np.float32)
    same = nn.Conv2d(2, 3, 3, padding="same")
    assert same(x).shape == same.output_shape(x.shape) == (1, 3, 7, 7)
    valid = nn.Conv2d(2, 3, 3, padding="valid")
    assert valid(x).shape == valid.output_shape(x.shape) == (1, 3, 5, 5)


# ----------------------------------------------------------------------------- BN and folding

def test_batchnorm_matches_formula(rng):
    bn = nn.BatchNorm2d(5, eps=1e-3, dtype=np.float64)
    randomize_bn(bn, rng)
    x = rng.standard_normal((2, 5, 4, 3))
    ref = ((x - bn.running_mean[None, :, None, None]) / np.sqrt(bn.running_var[None, :, None, None] + 1e-3)
           * bn.weight[None, :, None, None] + bn.bias[None, :, None, None])
    np.testing.assert_allclose(bn(x), ref, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="expected input with 5 channels, got 4"):
        bn(np.zeros((1, 4, 2, 2)))


@pytest.mark.parametrize("bias", [True, False])
def test_bn_folding_equals_unfolded(rng, spy, bias):
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=bias, seed=2)
    if bias:
        conv.bias = rng.standard_normal(16)
    bn = nn.BatchNorm2d(16)
    randomize_bn(bn, rng)
    model = nn.Sequential(conv, bn, nn.ReLU())
    x = rng.standard_normal((2, 8, 10, 10)).astype(np.float32)
    fused = model(x)
    assert len(spy) == 1 and spy[0]["activation"] == "relu"      # one conv call: BN + ReLU folded
    spy.clear()
    unfused = model.fuse(False)(x)
    assert len(spy) == 1 and spy[0]["activation"] is None          # BN and ReLU as separate ops
    model.fuse(True)
    # float64 reference of conv -> BN -> ReLU, and its error bound through the folded weights
    scale, shift = bn._scale_shift()
    w = conv.weight.astype(np.float64) * scale[:, None, None, None]
    b = shift + (conv.bias * scale if bias else 0)
    ref, absref = conv_ref_fast(x, w, b, 1, 1)
    assert_close(fused, np.maximum(ref, 0), absref, 8 * 9 + 2)
    y64 = np.maximum(conv_ref_fast(x, conv.weight, conv.bias, 1, 1)[0] * scale[None, :, None, None]
                     + shift[None, :, None, None], 0)
    assert_close(unfused, y64, absref, 8 * 9 + 4)
    assert rel_err(fused, unfused) < 1e-5


def test_bn_folding_follows_parameter_changes(rng):
    conv, bn = nn.Conv2d(4, 6, 1, bias=False), nn.BatchNorm2d(6)
    model = nn.Sequential(conv, bn)
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    y0 = model(x)
    bn.running_mean = np.full(6, 2.0)           # the cached folded weights must be rebuilt
    y1 = model(x)
    np.testing.assert_allclose(y1, y0 - 2.0 / np.sqrt(1 + bn.eps), rtol=0, atol=1e-5)
    np.testing.assert_allclose(y1, model.fuse(False)(x), rtol=0, atol=1e-5)


def test_conv_with_relu_then_bn_is_not_folded(rng):
    conv = nn.Conv2d(3, 4, 3, activation="relu")
    bn = nn.BatchNorm2d(4)
    randomize_bn(bn, rng)
    m = nn.Sequential(conv, bn)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(m(x), bn(conv(x)), rtol=1e-6, atol=1e-6)
    assert (m(x) < 0).any()  # BN shifts after the ReLU: negative outputs exist


def test_prepare_prepacks(rng):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    assert model.prepare() is model
    assert model[0]._cache
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(model(x), model.fuse(False)(x), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- simple layers

def test_relu_dropout_flatten_identity(rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(nn.ReLU()(x), np.maximum(x, 0))
    assert nn.Dropout(0.5)(x) is x
    np.testing.assert_array_equal(nn.Flatten()(x), x.reshape(2, -1))
    assert nn.Flatten().output_shape((2, 3, 4, 4)) == (2, 48)
    assert nn.Identity()(x) is x


@pytest.mark.parametrize("ceil", [False, True])
def test_pools(rng, ceil):
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    mp = nn.MaxPool2d(3, 2, padding=1, ceil_mode=ceil)
    y = mp(x)
    assert y.shape == mp.output_shape(x.shape)
    np.testing.assert_array_equal(y, pool_ref(x, "max", (3, 3), (2, 2), (1, 1), ceil_mode=ceil))
    ap = nn.AvgPool2d(3, 2, ceil_mode=ceil)
    y = ap(x)
    assert y.shape == ap.output_shape(x.shape)
    np.testing.assert_allclose(y, pool_ref(x, "avg", (3, 3), (2, 2), (0, 0), ceil_mode=ceil), rtol=1e-6, atol=1e-6)
    g = nn.GlobalAvgPool2d()
    np.testing.assert_allclose(g(x), x.astype(np.float64).mean(axis=(2, 3), keepdims=True), rtol=1e-6, atol=1e-6)
    assert g.output_shape(x.shape) == (2, 3, 1, 1)
    assert isinstance(nn.AdaptiveAvgPool2d(1), nn.GlobalAvgPool2d)
    with pytest.raises(ValueError, match="output_size=1 only"):
        nn.AdaptiveAvgPool2d(2)
    with pytest.raises(ValueError, match="at most half"):
        nn.MaxPool2d(3, padding=2)


def test_linear(rng):
    lin = nn.Linear(7, 3, dtype=np.float64, seed=0)
    lin.bias = rng.standard_normal(3)
    x = rng.standard_normal((4, 7))
    np.testing.assert_allclose(lin(x), x @ lin.weight.T + lin.bias, rtol=1e-13, atol=1e-13)
    assert lin.output_shape((4, 7)) == (4, 3)
    with pytest.raises(ValueError, match="last dimension 7"):
        lin(np.zeros((4, 6)))


# ----------------------------------------------------------------------------- containers

def _branches(seed=0):
    r = np.random.default_rng(seed)
    return [nn.Sequential(nn.Conv2d(6, 4, 1, rng=r), nn.ReLU()),
            nn.Sequential(nn.Conv2d(6, 3, 1, rng=r), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 5, 3, padding=1, rng=r)),
            nn.Sequential(nn.Conv2d(6, 2, 3, padding=1, rng=r), nn.MaxPool2d(3, 1, 1)),  # ends in a pool: copied
            nn.Conv2d(6, 3, 5, padding=2, rng=r)]


def test_concat_writes_slices_without_concatenate(rng, spy, monkeypatch):
    cat = nn.Concat(*_branches())
    randomize_bn(cat._modules["1"][1], rng)
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    refs = [b(x) for b in cat.children()]
    expected = np.empty((2, 14, 9, 9), np.float32)
    c0 = 0
    for r in refs:
        expected[:, c0:c0 + r.shape[1]] = r
        c0 += r.shape[1]
    spy.clear()
    forbid_concatenate(monkeypatch)
    y = cat(x)
    monkeypatch.undo()
    assert y.shape == cat.output_shape(x.shape) == (2, 14, 9, 9)
    np.testing.assert_array_equal(y, expected)
    # the last conv of branches 0, 1 and 3 wrote straight into a channel slice of y
    slices = [c["out"] for c in spy if c["out"] is not None]
    assert len(slices) == 3 and all(np.shares_memory(o, y) for o in slices)
    assert [o.shape[1] for o in slices] == [4, 5, 3]


def test_concat_errors():
    cat = nn.Concat(nn.Conv2d(3, 2, 3), nn.Conv2d(3, 2, 1))
    with pytest.raises(ValueError, match="does not match"):
        cat(np.zeros((1, 3, 6, 6), np.float32))
    with pytest.raises(ValueError, match="at least one branch"):
        nn.Concat()


@pytest.mark.parametrize("projection", [False, True])
def test_residual_fuses_add_and_relu(rng, spy, projection):
    r = np.random.default_rng(1)
    body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False, rng=r), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8 if not projection else 12, 3, padding=1, bias=False, rng=r),
                         nn.BatchNorm2d(8 if not projection else 12))
    for m in body:
        if isinstance(m, nn.BatchNorm2d):
            randomize_bn(m, rng)
    sc = nn.Sequential(nn.Conv2d(8, 12, 1, bias=False, rng=r), nn.BatchNorm2d(12)) if projection else None
    res = nn.Residual(body, sc)
    x = rng.standard_normal((2, 8, 7, 7)).astype(np.float32)
    spy.clear()
    y = res(x)
    last = spy[-1]
    assert last["residual"] is not None and last["activation"] == "relu"
    sc_out = x if sc is None else sc.fuse(False)(x)
    unfused = np.maximum(body.fuse(False)(x) + sc_out, 0)
    res.fuse(True)
    assert rel_err(y, unfused) < 1e-5
    np.testing.assert_allclose(res.fuse(False)(x), unfused, rtol=1e-6, atol=1e-6)
    assert res.output_shape(x.shape) == y.shape
    with pytest.raises(ValueError, match="differ"):
        nn.Residual(nn.Conv2d(8, 4, 1))(x)


def test_sequential_indexing_and_names():
    s = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Conv2d) and len(s[1:]) == 2
    assert list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), 3)
    text = repr(s)
    assert "(0): Conv2d(3, 4, kernel_size=(1, 1)" in text and "(1): ReLU()" in text


# ----------------------------------------------------------------------------- state dicts

def _small_model(seed=0):
    r = np.random.default_rng(seed)
    from collections import OrderedDict
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(3, 4, 3, bias=False, rng=r), bn=nn.BatchNorm2d(4), relu=nn.ReLU(),
        pool=nn.GlobalAvgPool2d(), flat=nn.Flatten(), fc=nn.Linear(4, 2, rng=r)))


def test_state_dict_round_trip(rng, tmp_path):
    a, b = _small_model(0), _small_model(1)
    randomize_bn(a.bn, rng)
    sd = a.state_dict()
    assert list(sd) == ["conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                        "fc.weight", "fc.bias"]
    assert [p.shape for p in a.parameters()] == [(4, 3, 3, 3), (4,), (4,), (2, 4), (2,)]
    np.savez(tmp_path / "m.npz", num_batches_tracked=0, **{k: v for k, v in sd.items()},
             **{"bn.num_batches_tracked": np.array(7)})
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert not np.allclose(a(x), b(x))
    with pytest.raises(KeyError, match="unexpected keys \\['num_batches_tracked'\\]"):
        b.load_state_dict(np.load(tmp_path / "m.npz"))
    d = dict(np.load(tmp_path / "m.npz"))
    del d["num_batches_tracked"]
    b.load_state_dict(d)                     # bn.num_batches_tracked accepted and ignored
    np.testing.assert_array_equal(a(x), b(x))
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])


def test_load_state_dict_errors_name_the_problem():
    m = _small_model()
    sd = dict(m.state_dict())
    before = {k: v.copy() for k, v in sd.items()}
    bad = dict(sd)
    del bad["fc.bias"]
    bad["fc.extra"] = np.zeros(2)
    with pytest.raises(KeyError) as e:
        m.load_state_dict(bad)
    assert "missing keys ['fc.bias']" in str(e.value) and "unexpected keys ['fc.extra']" in str(e.value)
    m.load_state_dict(bad, strict=False)     # ignores both
    bad = {k: np.zeros_like(v) for k, v in sd.items()}
    bad["conv.weight"] = np.zeros((4, 3, 5, 5))
    bad["fc.weight"] = np.zeros((3, 4))
    with pytest.raises(ValueError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert "conv.weight: expected (4, 3, 3, 3), got (4, 3, 5, 5)" in msg
    assert "fc.weight: expected (2, 4), got (3, 4)" in msg
    for k, v in m.state_dict().items():     # nothing was modified by the failed load
        np.testing.assert_array_equal(v, before[k])


def test_num_threads_and_dtype64(rng):
    m = _small_model()
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = m(x)
    np.testing.assert_array_equal(m.set_num_threads(1)(x), y)
    m64 = nn.Sequential(nn.Conv2d(3, 4, 3, dtype=np.float64, seed=0))
    assert m64(x).dtype == np.float64


# ----------------------------------------------------------------------------- torch.nn references

def test_layers_match_torch(rng):
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    x = rng.standard_normal((2, 6, 12, 12)).astype(np.float32)
    ours = nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False, seed=0), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.MaxPool2d(3, 2, ceil_mode=True), nn.Conv2d(8, 4, 1, seed=1),
                         nn.AvgPool2d(2, 1, padding=1, count_include_pad=False), nn.GlobalAvgPool2d(),
                         nn.Flatten(), nn.Linear(4, 3, seed=2))
    randomize_bn(ours[1], rng)
    theirs = tnn.Sequential(tnn.Conv2d(6, 8, 3, 2, 1, bias=False), tnn.BatchNorm2d(8), tnn.ReLU(),
                            tnn.MaxPool2d(3, 2, ceil_mode=True), tnn.Conv2d(8, 4, 1),
                            tnn.AvgPool2d(2, 1, padding=1, count_include_pad=False), tnn.AdaptiveAvgPool2d(1),
                            tnn.Flatten(), tnn.Linear(4, 3)).double().eval()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v, np.float64)) for k, v in ours.state_dict().items()})
    with torch.no_grad():
        ref = theirs(torch.from_numpy(x.astype(np.float64))).numpy()
    assert rel_err(ours(x), ref) < 1e-5
    # and torch's own state dict (with num_batches_tracked) loads into ours
    ours.load_state_dict({k: v.float().numpy() for k, v in theirs.state_dict().items()})
    assert rel_err(ours(x), ref) < 1e-5


def test_residual_unfusable_body_and_no_relu(rng, spy):
    """A body ending in conv+ReLU cannot take the residual inside the conv (relu(relu(y) + r)):
    it falls back to a separate add; relu=False gives a plain sum."""
    body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, seed=0), nn.ReLU())
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    inner = np.maximum(body.fuse(False)(x), 0)
    body.fuse(True)
    spy.clear()
    y = nn.Residual(body)(x)
    assert spy[-1]["residual"] is None
    np.testing.assert_allclose(y, np.maximum(inner + x, 0), rtol=1e-6, atol=1e-6)
    plain = nn.Residual(nn.Conv2d(4, 4, 1, seed=1), relu=False)
    spy.clear()
    y = plain(x)
    assert spy[-1]["residual"] is not None and spy[-1]["activation"] is None
    ref, absref = conv_ref_fast(x, plain.body.weight, plain.body.bias, 1, 0)
    assert_close(y, ref + x, absref + np.abs(x), 4 + 1)
    assert "relu=False" in repr(plain)

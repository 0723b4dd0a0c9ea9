"""cconv.blocks against float64 NumPy references (tests/nn_reference.py) and torch.nn twins.

Blocks chain 2-4 convolutions, so the comparison bound is for the composition:
float64 blocks to 1e-12 of the output scale, float32 blocks to 1e-5 (each
layer's float32 error is <= (K+2)*eps relative to its |x||w| sums, K <= 2304).
"""
import numpy as np
import pytest

import cconv
from cconv.bench_blocks import block_cases, randomize, torch_module
from cconv.blocks import BasicConv2d, Bottleneck, Fire, Inception, MLPConv
import nn_reference as R


def rel_err(y, ref):
    return float(np.max(np.abs(np.asarray(y, np.float64) - ref)) / np.max(np.abs(ref)))


def both(build, seed=0):
    """The block in float64 and float32 with the same (randomized) parameters."""
    m64 = randomize(build(np.float64), seed)
    m32 = build(np.float32).load_state_dict(m64.state_dict())
    return m64, m32


def check(m64, m32, x, ref):
    assert rel_err(m64(x), ref) < 1e-12
    assert rel_err(m32(x.astype(np.float32)), ref) < 1e-5
    assert rel_err(m32.fuse(False)(x.astype(np.float32)), ref) < 1e-5


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = cconv.conv2d

    def conv2d(x, w, b=None, **kw):
        calls.append(kw)
        return real(x, w, b, **kw)
    monkeypatch.setattr(cconv, "conv2d", conv2d)
    return calls


# ----------------------------------------------------------------------------- MLPConv

def test_mlpconv_is_an_mlp_on_every_patch(rng):
    """NIN's claim: mlpconv == the same MLP (matmuls + ReLU) applied to each KxK patch."""
    K, pad = 5, 2
    m64, m32 = both(lambda dt: MLPConv(3, (12, 10, 6), K, padding=pad, dtype=dt, seed=1))
    x = rng.standard_normal((2, 3, 9, 8))
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    patches = np.lib.stride_tricks.sliding_window_view(xp, (K, K), axis=(2, 3))  # N C H W K K
    h = patches.transpose(0, 2, 3, 1, 4, 5).reshape(2, 9, 8, 3 * K * K)       # one row per patch
    sd = m64.state_dict()
    for i, name in enumerate(["0", "2", "4"]):
        W = sd[f"{name}.weight"].reshape(sd[f"{name}.weight"].shape[0], -1)  # (out, in*K*K) / (out, in)
        h = np.maximum(h @ W.T + sd[f"{name}.bias"], 0)
    mlp = h.transpose(0, 3, 1, 2)
    check(m64, m32, x, mlp)
    conv_chain = R.mlpconv(x, {"m." + k: v for k, v in sd.items()}, "m", 3, pad)   # the conv view
    np.testing.assert_allclose(mlp, conv_chain, rtol=1e-12, atol=1e-12)
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    with pytest.raises(ValueError, match="at least one"):
        MLPConv(3, (), 3)


def test_mlpconv_stride(rng):
    m64, m32 = both(lambda dt: MLPConv(4, (8, 5), 3, stride=2, padding=1, dtype=dt, seed=2))
    x = rng.standard_normal((1, 4, 11, 11))
    sd = {"m." + k: v for k, v in m64.state_dict().items()}
    ref = np.maximum(R.conv(np.maximum(R.conv(x, sd, "m.0", 2, 1), 0), sd, "m.2"), 0)
    check(m64, m32, x, ref)


# ----------------------------------------------------------------------------- Inception

def test_inception_3a(rng, spy, monkeypatch):
    cfg = (192, 64, 96, 128, 16, 32, 32)
    m64, m32 = both(lambda dt: Inception(*cfg, dtype=dt, seed=3))
    x = rng.standard_normal((1, 192, 12, 12))
    sd = {"i." + k: v for k, v in m64.state_dict().items()}
    ref = R.inception(x, sd, "i")           # reference uses np.concatenate; ours must not
    assert m32.output_shape(x.shape) == (1, 256, 12, 12) == ref.shape
    assert m64.state_dict()["branch3.1.conv.weight"].shape == (32, 16, 5, 5)   # a real 5x5
    monkeypatch.setattr(np, "concatenate", None)
    spy.clear()
    check(m64, m32, x, ref)
    outs = [c["out"] for c in spy[:6]]      # m64's six convs: 4 branch outputs written in place
    assert sum(o is not None for o in outs) == 4
    assert all(c["activation"] == "relu" for c in spy[:12])   # fused runs (m64, m32)


def test_inception_batch_norm_variant(rng):
    m = randomize(Inception(16, 4, 4, 8, 2, 4, 4, batch_norm=True, dtype=np.float64, seed=0), 1)
    assert "branch3.1.bn.running_var" in m.state_dict() and "branch1.conv.bias" not in m.state_dict()
    x = rng.standard_normal((2, 16, 6, 6))
    sd = m.state_dict()

    def bc(v, p, pad=0):
        return R.relu(R.bn(R.conv(v, sd, p + ".conv", 1, pad), sd, p + ".bn", eps=1e-3))
    ref = np.concatenate([bc(x, "branch1"), bc(bc(x, "branch2.0"), "branch2.1", 1),
                          bc(bc(x, "branch3.0"), "branch3.1", 2), bc(R.maxpool(x, 3, 1, 1, True), "branch4.1")], 1)
    assert rel_err(m(x), ref) < 1e-12


# ----------------------------------------------------------------------------- Bottleneck

@pytest.mark.parametrize("cin,planes,stride", [(16, 4, 1), (8, 4, 1), (16, 8, 2)])
def test_bottleneck(rng, spy, cin, planes, stride):
    m64, m32 = both(lambda dt: Bottleneck(cin, planes, stride, dtype=dt, seed=4))
    has_ds = stride != 1 or cin != planes * 4
    keys = list(m64.state_dict())
    assert ("downsample.0.weight" in keys) == has_ds and ("downsample.1.running_mean" in keys) == has_ds
    assert keys[:5] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
    x = rng.standard_normal((2, cin, 9, 9))
    ref = R.bottleneck(x, {"b." + k: v for k, v in m64.state_dict().items()}, "b", stride)
    spy.clear()
    check(m64, m32, x, ref)
    last = spy[2 + has_ds]     # m64: conv1, conv2, [downsample], conv3
    assert last["residual"] is not None and last["activation"] == "relu"
    assert m32.output_shape(x.shape) == ref.shape


def test_bottleneck_wrong_channels():
    with pytest.raises(ValueError, match="expected input with 64 channels, got 32"):
        Bottleneck(64, 16)(np.zeros((1, 32, 8, 8), np.float32))


# ----------------------------------------------------------------------------- Fire

def test_fire(rng, spy, monkeypatch):
    m64, m32 = both(lambda dt: Fire(24, 8, 16, 12, dtype=dt, seed=5))
    assert list(m64.state_dict()) == ["squeeze.weight", "squeeze.bias", "expand1x1.weight", "expand1x1.bias",
                                      "expand3x3.weight", "expand3x3.bias"]
    x = rng.standard_normal((2, 24, 10, 9))
    ref = R.fire(x, {"f." + k: v for k, v in m64.state_dict().items()}, "f")
    monkeypatch.setattr(np, "concatenate", None)
    spy.clear()
    check(m64, m32, x, ref)
    assert [c["out"] is not None for c in spy[:3]] == [False, True, True]
    assert all(c["activation"] == "relu" for c in spy[:3])
    assert "Fire(24, squeeze=8, expand1x1=16, expand3x3=12" in repr(m32)


def test_basic_conv2d_names():
    assert list(BasicConv2d(3, 4, 3).state_dict()) == ["conv.weight", "conv.bias"]
    assert list(BasicConv2d(3, 4, 3, batch_norm=True).state_dict()) == [
        "conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"]


# ----------------------------------------------------------------------------- torch twins and bench cases

@pytest.mark.parametrize("case", block_cases(), ids=lambda c: c.name)
def test_block_cases_against_torch_or_float64(case):
    assert case.macs > 0 and case.name
    y = case.make_cconv()()
    assert y.shape == case.reference().shape
    assert case.check() <= 1e-4
    fn = case.make_torch(1)
    torch = pytest.importorskip("torch")
    out = fn()
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == y.shape


def test_torch_state_dict_loads_into_blocks(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for kind, args, ours in [("Bottleneck", (32, 8, 2), Bottleneck(32, 8, 2)),
                             ("Fire", (16, 4, 8, 8), Fire(16, 4, 8, 8)),
                             ("Inception", (16, 4, 4, 8, 2, 4, 4), Inception(16, 4, 4, 8, 2, 4, 4))]:
        t = torch_module(kind, *args)
        for mod in t.modules():        # non-trivial BN statistics
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
        ours.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
        x = rng.standard_normal((2, args[0], 8, 8)).astype(np.float32)
        with torch.no_grad():
            ref = t.double()(torch.from_numpy(x.astype(np.float64))).numpy()
        assert rel_err(ours(x), ref) < 1e-5, kind

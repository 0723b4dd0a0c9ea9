"""cconv.models: logits against float64 NumPy references built from the state dict
(tests/nn_reference.py), torch.nn twins with torchvision names, state-dict I/O.

Inputs are small (64x64, NIN 32x32) to keep the suite fast.  Bounds for whole
networks: float64 models to 1e-11 of the logits' scale (50+ layers of
float64 reductions), float32 models to 1e-4 of it (the cconv/torch agreement
bar on logits).
"""
import numpy as np
import pytest

from cconv import models
from cconv.bench_blocks import net_cases, randomize, torch_module
import nn_reference as R

MODELS = {
    "nin_cifar10": (R.nin_cifar10, (2, 3, 32, 32)),
    "googlenet": (R.googlenet, (2, 3, 64, 64)),
    "resnet50": (R.resnet50, (2, 3, 64, 64)),
    "squeezenet1_0": (lambda x, sd: R.squeezenet(x, sd, "1_0"), (2, 3, 64, 64)),
    "squeezenet1_1": (lambda x, sd: R.squeezenet(x, sd, "1_1"), (2, 3, 64, 64)),
}


def rel_err(y, ref):
    return float(np.max(np.abs(np.asarray(y, np.float64) - ref)) / np.max(np.abs(ref)))


_cache = {}


def model_pair(name):
    """(float64 model, float32 model, state dict) with the same random parameters."""
    if name not in _cache:
        m64 = randomize(getattr(models, name)(dtype=np.float64, seed=1), seed=2)
        sd = m64.state_dict()
        m32 = getattr(models, name)(dtype=np.float32, seed=3).load_state_dict(sd)
        _cache[name] = (m64, m32, sd)
    return _cache[name]


@pytest.mark.parametrize("name", list(MODELS))
def test_model_logits_match_numpy_reference(name, rng):
    ref_fn, shape = MODELS[name]
    m64, m32, sd = model_pair(name)
    x = rng.standard_normal(shape)
    ref = ref_fn(x, dict(sd))
    y64 = m64(x)
    assert y64.shape == ref.shape == (shape[0], 10 if name.startswith("nin") else 1000)
    assert rel_err(y64, ref) < 1e-11
    y32 = m32(x.astype(np.float32))
    assert y32.dtype == np.float32
    assert rel_err(y32, ref) < 1e-4
    # any batch size: each sample alone gives the same logits
    np.testing.assert_allclose(m64(x[1:2]), y64[1:2], rtol=1e-12, atol=1e-12 * np.abs(y64).max())


@pytest.mark.parametrize("name", ["resnet50", "googlenet"])
def test_fused_equals_unfused(name, rng):
    m64, _, _ = model_pair(name)
    x = rng.standard_normal(MODELS[name][1])
    fused = m64(x)
    unfused = m64.fuse(False)(x)
    m64.fuse(True)
    assert rel_err(fused, unfused) < 1e-12


@pytest.mark.parametrize("name", list(MODELS))
def test_model_matches_torch_twin(name, rng, tmp_path):
    torch = pytest.importorskip("torch")
    _, m32, sd = model_pair(name)
    t = torch_module(name, state_dict=sd, dtype=np.float64)
    # the keys are exactly the torch module's (torchvision names), incl. num_batches_tracked for BN
    tkeys = [k for k in t.state_dict() if not k.endswith("num_batches_tracked")]
    assert tkeys == list(sd)
    # torch -> npz -> cconv, as a user would load pretrained torchvision weights
    np.savez(tmp_path / "w.npz", **{k: v.float().numpy() for k, v in t.state_dict().items()})
    ours = getattr(models, name)(seed=5).load_state_dict(np.load(tmp_path / "w.npz"))
    x = rng.standard_normal(MODELS[name][1])
    with torch.no_grad():
        ref = t(torch.from_numpy(x)).numpy()
    assert rel_err(ours(x.astype(np.float32)), ref) < 1e-4


def test_state_dict_round_trip_npz(tmp_path, rng):
    _, m32, sd = model_pair("squeezenet1_1")
    np.savez(tmp_path / "s.npz", **sd)
    fresh = models.squeezenet1_1(seed=9)
    x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    assert not np.allclose(fresh(x), m32(x))
    fresh.load_state_dict(np.load(tmp_path / "s.npz"))
    np.testing.assert_array_equal(fresh(x), m32(x))


def test_resnet50_key_layout():
    sd = models.resnet50().state_dict()
    # 53 convs + 53 BNs x 4 + fc weight/bias; torchvision has 320 keys: these + 53 num_batches_tracked
    assert len(sd) == 53 + 53 * 4 + 2 == 267
    assert sd["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)
    assert sd["layer2.0.downsample.0.weight"].shape == (512, 256, 1, 1)
    assert sd["layer3.5.bn3.running_var"].shape == (1024,)
    assert sd["fc.weight"].shape == (1000, 2048) and "layer1.1.downsample.0.weight" not in sd


def test_load_errors_name_keys_and_shapes():
    m = models.squeezenet1_1()
    sd = dict(m.state_dict())
    sd["features.3.squeeze.weight"] = np.zeros((16, 64, 3, 3))
    with pytest.raises(ValueError, match=r"features.3.squeeze.weight: expected \(16, 64, 1, 1\), got \(16, 64, 3, 3\)"):
        m.load_state_dict(sd)
    sd = dict(m.state_dict())
    sd.pop("classifier.1.bias")
    sd["classifier.2.weight"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"missing keys \['classifier.1.bias'\].*unexpected keys \['classifier.2.weight'\]"):
        m.load_state_dict(sd)


def test_googlenet_rejects_torchvision_3x3_branch():
    """torchvision's googlenet has a 3x3 in the '5x5' branch: loading it must fail on that shape."""
    m = models.googlenet()
    sd = dict(m.state_dict())
    sd["inception3a.branch3.1.conv.weight"] = np.zeros((32, 16, 3, 3))
    with pytest.raises(ValueError, match=r"inception3a.branch3.1.conv.weight: expected \(32, 16, 5, 5\)"):
        m.load_state_dict(sd)
    bn = models.googlenet(batch_norm=True)
    assert "inception3a.branch3.1.bn.running_mean" in bn.state_dict()


def test_models_reject_wrong_input_channels():
    for name in MODELS:
        with pytest.raises(ValueError, match="expected input with 3 channels, got 1"):
            getattr(models, name)()(np.zeros((1, 1, 32, 32), np.float32))


def test_net_cases_interface():
    cases = net_cases()
    assert [c.name for c in cases] == [f"{n}_b{b}" for n in MODELS for b in (1, 8)]
    for c in cases:
        assert isinstance(c.macs, int) and c.macs > 0 and c.input_shape[0] in (1, 8)
    assert cases[1].macs == 8 * cases[0].macs
    small = [c for c in cases if c.name == "squeezenet1_1_b1"][0]
    assert small.check() < 1e-4
    assert small.make_cconv()().shape == (1, 1000)

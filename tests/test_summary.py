"""cconv.summary cost model: the published figures, recomputed independently where possible."""

import pytest

import cconv
from cconv import models, nn
from cconv.blocks import Inception


def conv_macs(n, h, w, c, k, r):
    """Textbook count for a stride-1 'same' convolution: output pixels x K x C x R x S."""
    return n * h * w * k * c * r * r


def test_googlenet_5x5_example():
    # GoogLeNet paper's motivating example: 28x28x192 through 5x5x32
    direct = nn.Conv2d(192, 32, 5, padding=2)
    assert cconv.macs(direct, (1, 192, 28, 28)) == 120_422_400 == conv_macs(1, 28, 28, 192, 32, 5)
    reduced = nn.Sequential(nn.Conv2d(192, 16, 1), nn.ReLU(), nn.Conv2d(16, 32, 5, padding=2))
    s = cconv.summary(reduced, (1, 192, 28, 28), print_table=False)
    assert [r.macs for r in s.rows] == [2_408_448, 0, 10_035_200]
    assert s.total_macs == cconv.macs(reduced, (1, 192, 28, 28)) == 12_443_648


def test_inception_3a_figures():
    inc = Inception(192, 64, 96, 128, 16, 32, 32)
    assert cconv.count_params(inc, weights_only=True) == 163_328
    assert cconv.count_params(inc) == 163_328 + 64 + 96 + 128 + 16 + 32 + 32     # + biases
    s = cconv.summary(inc, (1, 192, 28, 28), print_table=False)
    assert s.total_macs == 128_049_152 == 163_328 * 28 * 28
    assert s.total_weights == 163_328
    assert s.output_shape == (1, 256, 28, 28)
    assert s["branch3.1.conv"].output_shape == (1, 32, 28, 28)
    assert s["branch3.1.conv"].macs == 10_035_200


@pytest.mark.parametrize("factory,expected", [(models.squeezenet1_0, 1_248_424),
                                              (models.squeezenet1_1, 1_235_496),
                                              (models.resnet50, 25_557_032)])
def test_parameter_counts_like_torchvision(factory, expected):
    m = factory()
    assert cconv.count_params(m) == expected
    assert sum(p.size for p in m.parameters()) == expected          # BN running stats excluded
    assert cconv.summary(m, (1, 3, 224, 224), print_table=False).total_params == expected


def test_resnet50_macs_and_shapes():
    s = cconv.summary(models.resnet50(), (2, 3, 224, 224), print_table=False)
    assert s.output_shape == (2, 1000)
    assert s["conv1"].output_shape == (2, 64, 112, 112)
    assert s["maxpool"].output_shape == (2, 64, 56, 56)
    assert s["layer4.2.conv3"].output_shape == (2, 2048, 7, 7)
    assert s["layer1.0.downsample.0"].macs == 2 * 56 * 56 * 256 * 64
    assert s["fc"].macs == 2 * 2048 * 1000
    assert s.total_macs == sum(r.macs for r in s.rows)
    single = cconv.summary(models.resnet50(), (1, 3, 224, 224), print_table=False)
    assert s.total_macs == 2 * single.total_macs
    # every conv's MACs = Ho*Wo*K*C*R*S from its own shapes
    m = models.resnet50()
    mods = dict(m.named_modules())
    for r in single.rows:
        mod = mods[r.name]
        if isinstance(mod, nn.Conv2d):
            n, k, ho, wo = r.output_shape
            assert r.macs == n * k * ho * wo * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]


def test_summary_prints_table(capsys):
    s = cconv.summary(models.squeezenet1_1(), (1, 3, 224, 224))
    out = capsys.readouterr().out
    assert "features.3.expand3x3" in out and "1,235,496" in out and f"{s.total_macs:,}" in out
    assert str(s) in out
    assert "Summary(" in repr(s)
    with pytest.raises(KeyError):
        s["nope"]


def test_models_summary_shapes():
    assert cconv.summary(models.googlenet(), (1, 3, 224, 224), print_table=False)["inception5b"
                                                                                  ".branch4.1.conv"].output_shape \
        == (1, 128, 7, 7)
    assert cconv.summary(models.nin_cifar10(), (4, 3, 32, 32), print_table=False).output_shape == (4, 10)


def test_single_layer_helpers():
    assert cconv.macs(nn.Linear(100, 10), (3, 100)) == 3000
    assert cconv.count_params(nn.Linear(100, 10)) == 1010
    assert cconv.count_params(nn.Conv2d(8, 4, 3, groups=2, bias=False)) == 4 * 4 * 9
    assert cconv.macs(nn.Conv2d(8, 4, 3, groups=2, stride=2), (1, 8, 9, 9)) == 16 * 4 * 4 * 9
    assert cconv.macs(nn.MaxPool2d(2), (1, 3, 8, 8)) == 0
    assert cconv.count_params(nn.BatchNorm2d(10)) == 20


def test_summary_rejects_bad_input():
    with pytest.raises(ValueError, match="expected input with 3 channels, got 1"):
        cconv.summary(models.resnet50(), (1, 1, 224, 224), print_table=False)
    with pytest.raises(ValueError, match="too small"):
        cconv.macs(nn.Conv2d(3, 4, 5), (1, 3, 4, 4))
    with pytest.raises(ValueError, match="4-D"):
        cconv.macs(nn.Conv2d(3, 4, 5), (3, 8, 8))


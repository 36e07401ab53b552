"""Models: shapes on every input size, the activation chain GNIs tap, seeded init."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gnitails.config import ConfigError
from gnitails.models import (
    SameConv2d,
    build_convnet,
    build_mlp,
    build_model,
    record_activations,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mlp_activation_chain():
    net = build_model({"arch": "mlp", "width": 16, "depth": 3}, (1, 4, 5), 7)
    assert net.n_layers == 4
    assert net.activation_shapes == ((20,), (16,), (16,), (16,), (7,))
    assert net.layer_names() == ["input", "hidden1", "hidden2", "hidden3", "output"]
    out, acts = record_activations(net, torch.randn(3, 1, 4, 5))
    assert out.shape == (3, 7) and [a.shape[1:] for a in acts] == list(
        map(torch.Size, net.activation_shapes)
    )
    assert (acts[1] >= 0).all()  # hidden activations are post-ReLU
    assert acts[-1] is out


@pytest.mark.parametrize(
    "hw, hidden",
    [
        ((8, 8), [(32, 4, 4), (128, 2, 2)]),
        ((28, 28), [(32, 14, 14), (128, 7, 7)]),
        ((32, 32), [(32, 16, 16), (128, 8, 8)]),
        ((7, 9), [(32, 4, 5), (128, 2, 3)]),
    ],
)
def test_convnet_same_padding_shapes(hw, hidden):
    """TF 'SAME' with stride 2: every spatial size becomes ceil(size / 2)."""
    channels = 3
    net = build_convnet((channels, *hw), 10)
    assert net.activation_shapes == ((channels, *hw), *hidden, (10,))
    out = net(torch.randn(2, channels, *hw))
    assert out.shape == (2, 10)
    assert net.layers[0].kernel_size == (4, 4) and net.layers[0].stride == (2, 2)


def test_same_padding_matches_tensorflow_on_even_input():
    """For even sizes SAME pads one pixel each side: equal to a symmetric padding=1 conv."""
    net = build_convnet((1, 8, 8), 10)
    conv = net.layers[0]
    x = torch.randn(2, 1, 8, 8)
    ref = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1)
    torch.testing.assert_close(conv(x), ref)


@pytest.mark.parametrize(
    "c_in, hw, k",
    [(1, (8, 8), 4), (3, (7, 9), 4), (32, (4, 4), 4), (2, (5, 3), 4), (1, (6, 5), 3)],
)
def test_dense_convolution_is_the_same_linear_map(c_in, hw, k):
    """The dense path of SameConv2d against torch's convolution of the padded input: value,
    gradients in weights, bias and input, and a second derivative (what R's gradient uses)."""
    conv = SameConv2d(c_in, 6, k, stride=2).double()  # k = 3 on 6 x 5: pads 0, 1 and 1, 1
    assert conv._dense_index((c_in, *hw), torch.device("cpu")) is not None

    def by_conv(x, weight, bias):
        return F.conv2d(F.pad(x, conv._pads(hw)), weight, bias, stride=2)

    def by_module(x, weight, bias):
        return torch.func.functional_call(conv, {"weight": weight, "bias": bias}, (x,))

    x = torch.randn(5, c_in, *hw, dtype=torch.float64, generator=gen(1), requires_grad=True)
    w, b = conv.weight.detach().clone(), conv.bias.detach().clone()
    results = []
    for f in (by_conv, by_module):
        weight, bias = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
        out = f(x, weight, bias)
        gx, gw, gb = torch.autograd.grad(torch.tanh(out).square().sum(), (x, weight, bias),
                                         create_graph=True)  # fmt: skip
        (ggw,) = torch.autograd.grad(gx.square().sum(), weight)
        results.append((out, gx, gw, gb, ggw))
    for ours, ref in zip(*results, strict=True):
        torch.testing.assert_close(ours, ref)


def test_dense_convolution_only_where_it_is_cheaper():
    net = build_convnet((1, 28, 28), 10)  # MNIST: each output sees 16 of 784 pixels
    assert net.layers[0]._dense_index((1, 28, 28), torch.device("cpu")) is None
    assert net.layers[1]._dense_index((32, 14, 14), torch.device("cpu")) is None
    x = torch.randn(2, 1, 28, 28)
    conv = net.layers[0]
    ref = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1)
    torch.testing.assert_close(conv(x), ref)


def test_tap_sees_every_activation_in_order():
    net = build_mlp((3,), 2, width=5, depth=2)
    seen = []
    net(torch.randn(4, 3), tap=lambda k, h: seen.append((k, tuple(h.shape))) or h)
    assert seen == [(0, (4, 3)), (1, (4, 5)), (2, (4, 5)), (3, (4, 2))]


def test_tap_output_replaces_activation():
    net = build_mlp((3,), 2, width=5, depth=1)
    x = torch.randn(4, 3)
    zeroed = net(x, tap=lambda k, h: torch.zeros_like(h) if k == 1 else h)
    torch.testing.assert_close(zeroed, net.layers[1].bias.expand(4, 2))


def test_init_is_seeded_and_scaled():
    cfg = {"arch": "mlp", "width": 32, "depth": 2}
    a = build_model(cfg, (5,), 1, generator=gen(1))
    b = build_model(cfg, (5,), 1, generator=gen(1))
    c = build_model(cfg, (5,), 1, generator=gen(2))
    d = build_model({**cfg, "init_scale": 2.0}, (5,), 1, generator=gen(1))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert torch.equal(d.layers[1].weight, 2 * a.layers[1].weight)
    assert torch.equal(d.layers[1].bias, a.layers[1].bias)
    # PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert a.layers[1].weight.abs().max() <= 1 / math.sqrt(32)


def test_glorot_normal_init():
    net = build_model({"arch": "mlp", "width": 400, "depth": 1, "init": "glorot_normal"}, (600,), 3)
    w = net.layers[0].weight
    std = math.sqrt(2 / (600 + 400))
    assert abs(w.std().item() - std) / std < 0.02  # the truncation is compensated
    assert w.abs().max() <= 2 * std / 0.8796 + 1e-6
    assert torch.count_nonzero(net.layers[0].bias) == 0


def test_schema_names_exactly_the_models_the_code_builds():
    """ModelSpec leaves arch, activation and init to the schema's enums: they must agree."""
    from gnitails.config import load_schema
    from gnitails.models import ACTIVATIONS, INITS

    props = load_schema()["$defs"]["model"]["properties"]
    assert set(props["arch"]["enum"]) == {"mlp", "convnet"}
    assert set(props["activation"]["enum"]) == set(ACTIVATIONS)
    assert set(props["init"]["enum"]) == set(INITS)


def test_bad_model_config_names_the_key():
    with pytest.raises(ConfigError, match="model.activation"):
        build_model({"arch": "mlp", "activation": "swish"}, (3,), 1)
    with pytest.raises(ConfigError, match="model.init"):
        build_model({"arch": "mlp", "init": "zeros"}, (3,), 1)
    with pytest.raises(ConfigError, match="model.arch"):
        build_model({"arch": "convnet"}, (3,), 1)

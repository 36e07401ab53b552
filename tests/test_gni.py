"""GNIs: where the noise goes, its moments, multiplicative zeros, and L~_M tiled = looped."""

from __future__ import annotations

import pytest
import torch

from gnitails.config import ConfigError
from gnitails.gni import NoiseSampler, NoiseSpec, injector, noisy_loss, noisy_loss_loop, tile
from gnitails.losses import cross_entropy, sum_squared_error
from gnitails.models import build_convnet, build_mlp


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def injected_pairs(net, x, spec, eps):
    """(h_k before injection, after injection) for every k, from one noisy forward pass."""
    inject = injector(spec, eps)
    pairs = {}

    def tap(k, h):
        before = h.detach().clone()
        after = inject(k, h)
        pairs[k] = (before, after.detach(), h)
        return after

    net(x, tap=tap)
    return pairs


def test_spec_from_config_placement():
    cfg = {"mode": "additive", "sigma": 0.1}
    assert NoiseSpec.from_config(cfg, 4).sigmas == (0.1, 0.1, 0.1, 0.1, 0.0)
    assert NoiseSpec.from_config({**cfg, "inject_input": False}, 4).layers == (1, 2, 3)
    assert NoiseSpec.from_config({**cfg, "inject_output": True}, 4).layers == (0, 1, 2, 3, 4)
    listed = NoiseSpec.from_config({**cfg, "sigma": [0.0, 0.2, 0.3, 0.4, 0.5]}, 4)
    assert listed.sigmas == (0.0, 0.2, 0.3, 0.4, 0.0)  # the output stays off by default
    with pytest.raises(ConfigError, match=r"noise\.sigma.*5"):
        NoiseSpec.from_config({**cfg, "sigma": [0.1, 0.2]}, 4)
    with pytest.raises(ConfigError, match="noise.mode"):
        NoiseSpec.from_config({**cfg, "mode": "add"}, 4)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_noise_moments_per_layer_and_none_elsewhere(mode):
    """Each chosen layer gets its own std; the others (and the output) are untouched."""
    torch.manual_seed(0)
    net = build_mlp((6,), 3, width=300, depth=3)
    spec = NoiseSpec(mode, (0.05, 0.0, 0.2, 0.4, 0.0))
    x = torch.rand(400, 6) + 0.5
    eps = NoiseSampler(spec, net.activation_shapes, gen(1)).draw(len(x))
    pairs = injected_pairs(net, x, spec, eps)
    for k, sigma in enumerate(spec.sigmas):
        before, after, _ = pairs[k]
        if sigma == 0:
            assert torch.equal(before, after), f"layer {k} should be noise-free"
            continue
        if mode == "additive":
            z = (after - before).flatten()
        else:
            nz = before != 0
            z = ((after - before)[nz] / before[nz]).flatten()
        n = z.numel()
        assert abs(z.mean().item()) < 5 * sigma / n**0.5, k
        assert abs(z.var().item() / sigma**2 - 1) < 6 * (2 / n) ** 0.5 + 1e-3, k


def test_multiplicative_noise_keeps_zeros_zero():
    net = build_mlp((5,), 2, width=64, depth=2)
    spec = NoiseSpec("multiplicative", (0.5, 0.5, 0.5, 0.0))
    x = torch.randn(50, 5)
    x[:, 2] = 0.0
    eps = NoiseSampler(spec, net.activation_shapes, gen()).draw(len(x))
    pairs = injected_pairs(net, x, spec, eps)
    for k in spec.layers:
        before, after, _ = pairs[k]
        zeros = before == 0
        assert zeros.any(), "ReLU layers (and the zeroed input column) must contain zeros"
        assert torch.equal(after[zeros], torch.zeros_like(after[zeros]))
        assert not torch.equal(after[~zeros], before[~zeros])


def test_injection_never_modifies_saved_activations():
    """The clean activation tensors survive injection and backward works through ReLU."""
    net = build_mlp((4,), 1, width=8, depth=2)
    for mode in ("additive", "multiplicative"):
        spec = NoiseSpec(mode, (0.3, 0.3, 0.3, 0.3))
        eps = NoiseSampler(spec, net.activation_shapes, gen()).draw(10)
        pairs = injected_pairs(net, torch.randn(10, 4), spec, eps)
        for before, _, original in pairs.values():
            assert torch.equal(before, original.detach())
        out = net(torch.randn(10, 4), tap=injector(spec, eps))
        out.sum().backward()  # would raise if an activation ReLU saved were modified in place


def test_draws_are_independent_across_copies_and_layers():
    net = build_mlp((3,), 1, width=100, depth=2)
    spec = NoiseSpec("additive", (0.1, 0.1, 0.1, 0.0))
    m, b = 4, 200
    eps = NoiseSampler(spec, net.activation_shapes, gen()).draw(m * b)
    e1 = eps[1].view(m, b, -1)
    corr = torch.corrcoef(
        torch.stack([e1[0].flatten(), e1[1].flatten(), eps[2].view(m, b, -1)[0].flatten()])
    )
    assert corr.abs().triu(1).max() < 0.02
    assert eps[1].dtype == torch.float32 and eps[0].shape == (m * b, 3)


def test_sampler_is_seeded_and_buffer_reuse_changes_nothing():
    net = build_mlp((3,), 1, width=10, depth=2)
    spec = NoiseSpec("additive", (0.1, 0.1, 0.1, 0.0))
    fresh = NoiseSampler(spec, net.activation_shapes, gen(5))
    reused = NoiseSampler(spec, net.activation_shapes, gen(5), reuse_buffer=True)
    for rows in (8, 8, 5, 8):
        a, b = fresh.draw(rows), reused.draw(rows)
        assert all(torch.equal(a[k], b[k]) for k in a)
    other = NoiseSampler(spec, net.activation_shapes, gen(6)).draw(8)
    assert not torch.equal(other[1], fresh.draw(8)[1])


@pytest.mark.parametrize(
    "arch, mode, loss", [("mlp", "additive", "sse"), ("convnet", "multiplicative", "ce")]
)
def test_tiled_m_draw_loss_equals_loop_with_same_draws(arch, mode, loss):
    torch.manual_seed(0)
    m, b = 5, 12
    if arch == "mlp":
        net = build_mlp((4,), 3, width=16, depth=2, activation="elu")
        x, y = torch.randn(b, 4), torch.randn(b, 3)
        fn = sum_squared_error
    else:
        net = build_convnet((1, 8, 8), 10)
        x, y = torch.rand(b, 1, 8, 8), torch.randint(0, 10, (b,))
        fn = cross_entropy
    spec = NoiseSpec(mode, (0.3,) * net.n_layers + (0.2,))
    tiled = noisy_loss(net, x, y, fn, spec, m, NoiseSampler(spec, net.activation_shapes, gen(3)))
    g_tiled = torch.autograd.grad(tiled, list(net.parameters()))
    eps = NoiseSampler(spec, net.activation_shapes, gen(3)).draw(m * b)
    looped = noisy_loss_loop(net, x, y, fn, spec, m, eps)
    g_loop = torch.autograd.grad(looped, list(net.parameters()))
    torch.testing.assert_close(tiled, looped, rtol=1e-5, atol=1e-6)
    for a, c in zip(g_tiled, g_loop, strict=True):
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-6)
    clean = fn(net(x), y).mean()
    assert not torch.isclose(tiled, clean)  # the noise did something


def test_tile_is_draw_major():
    x = torch.arange(3.0)[:, None]
    assert tile(x, 2).flatten().tolist() == [0, 1, 2, 0, 1, 2]
    assert tile(x, 1) is x

"""The Monte-Carlo explicit effect E[L~] - L recorded in noise dumps, against R."""

from __future__ import annotations

import torch

from gnitails.data.sinusoids import make_sinusoids
from gnitails.gni import NoiseSampler, NoiseSpec
from gnitails.losses import per_example_loss
from gnitails.models import build_model
from gnitails.noise.dump import DumpSpec, explicit_effect
from gnitails.noise.gradients import draw_noise
from gnitails.noise.gradients import explicit_effect as mc_effect


def test_linear_model_with_squared_loss_has_no_term_beyond_r():
    # Quadratic loss of a linear model: the second-order Taylor term R is the whole effect.
    torch.manual_seed(0)
    net = build_model({"arch": "mlp", "depth": 0}, (3,), 2).double()
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64)
    spec = NoiseSpec.from_config({"mode": "additive", "sigma": 0.3}, net.n_layers)
    gen = torch.Generator().manual_seed(1)
    eps = draw_noise(NoiseSampler(spec, net.activation_shapes, gen), 1000, len(x))
    eps = {k: e.double() for k, e in eps.items()}
    out = mc_effect(net, x, y, "regression", per_example_loss("regression"), spec, eps)
    assert out["regulariser"] > 0 and out["draws"] == 1000
    assert abs(out["mc_effect"] - out["regulariser"]) < 4 * out["mc_effect_se"]


def test_relu_net_effect_is_recorded_per_dump_batch():
    data = make_sinusoids(seed=0, n_train=40, n_test=10)
    net = build_model({"arch": "mlp", "width": 16, "depth": 2}, (1,), 1)
    spec = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, net.n_layers)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    dump = DumpSpec(m=10, draws=32, batch=20)
    a = explicit_effect(net, x, y, "regression", spec, dump, seed=3, step=0)
    b = explicit_effect(net, x, y, "regression", spec, dump, seed=3, step=0)
    assert a == b  # seeded by (seed, step)
    assert set(a) == {"clean_loss", "mc_effect", "mc_effect_se", "regulariser", "draws"}
    assert a["mc_effect_se"] > 0 and a["regulariser"] > 0

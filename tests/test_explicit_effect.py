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
    dump = DumpSpec.from_config(dict(m=10, draws=32, batch=20))
    a = explicit_effect(net, x, y, "regression", spec, dump, seed=3, step=0)
    b = explicit_effect(net, x, y, "regression", spec, dump, seed=3, step=0)
    assert a == b  # seeded by (seed, step)
    assert set(a) == {"clean_loss", "mc_effect", "mc_effect_se", "regulariser", "draws"}
    assert a["mc_effect_se"] > 0 and a["regulariser"] > 0


def test_explicit_effect_table_gives_the_ratio_and_names_a_dump_without_it(tmp_path):
    import pytest

    from gnitails.plots.tables import explicit_effect_table, write_explicit_effect_table

    eff = {"clean_loss": 1.0, "mc_effect": 0.3, "mc_effect_se": 0.01, "regulariser": 0.2}
    meta = {"experiment": "e", "run": "m1", "seed": 0, "step": 5, "sigma": [0.1, 0.1]}
    table = explicit_effect_table([{**meta, "explicit_effect": {**eff, "draws": 64}}])
    row = table.iloc[0]
    assert row["ratio"] == pytest.approx(1.5)
    assert row["ratio_lo"] == pytest.approx((0.3 - 1.959964 * 0.01) / 0.2, rel=1e-6)
    write_explicit_effect_table(table, tmp_path / "t.csv", tmp_path / "t.md")
    assert "1.50 [1.40, 1.60]" in (tmp_path / "t.md").read_text()
    with pytest.raises(ValueError, match="e/m1/seed0/step5 has no explicit_effect"):
        explicit_effect_table([meta])

"""The stable-replacement arms: the injected noise follows the fitted law; resume is exact."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gnitails.data.sinusoids import make_sinusoids
from gnitails.gni import NoiseSampler, NoiseSpec
from gnitails.losses import per_example_loss
from gnitails.models import build_model
from gnitails.replacement import Replacement, draw, fit_laws
from gnitails.runs import RunSpec, planned_runs
from gnitails.scales import rank1_scales
from gnitails.stable import fit
from gnitails.training import train_run

EXP = {
    "dataset": "sinusoids",
    "model": {"arch": "mlp", "width": 64, "depth": 2},
    "noise": {"mode": "additive", "sigma": 0.1},
    "training": {
        "rules": ["gni_m", "replace_s1", "replace_s0", "replace_gauss"],
        "m_values": [1, 4],
        "lr": 0.001,  # small, so the heavy-tailed arms stay finite for the test's few steps
        "steps": 12,
        "eval_every": 4,
        "replace_m": 4,
        "replace_refit_every": 5,
    },
    "seeds": [0],
}


@pytest.fixture(scope="module")
def sinusoids():
    return make_sinusoids(seed=0, n_train=100, n_test=20, frequencies=[1, 2, 3])


def test_run_names():
    names = [r.name for r in planned_runs(EXP)]
    assert names == ["m1", "m4", "replace_s1", "replace_s0", "replace_gauss"]
    assert RunSpec.parse("replace_s0") == RunSpec("replace_s0", "replace_s0", 1)


@pytest.mark.parametrize("kind", ["S1", "S0", "gauss"])
def test_draw_follows_the_law(kind):
    law = {"std": 0.5} if kind == "gauss" else {"alpha": 1.5, "beta": 0.6, "scale": 0.01}
    xi = draw(law, kind, (200_000,), torch.Generator().manual_seed(0), torch.float32)
    x = xi.double().numpy()
    if kind == "gauss":
        assert x.std() == pytest.approx(0.5, rel=0.01) and abs(x.mean()) < 0.005
        return
    r = fit(x, parametrization=kind)
    assert r.alpha == pytest.approx(1.5, abs=0.02) and r.beta == pytest.approx(0.6, abs=0.05)
    assert r.scale == pytest.approx(0.01, rel=0.02) and abs(r.loc) < 0.001  # location 0 in kind
    drift = -0.6 * 0.01 * math.tan(math.pi * 1.5 / 2)  # S0 location 0: mean = drift
    assert x.mean() == pytest.approx(0.0 if kind == "S1" else drift, abs=0.0015)


@pytest.mark.parametrize("rule", ["replace_s1", "replace_s0", "replace_gauss"])
def test_injected_noise_has_the_fitted_law(rule, sinusoids):
    """What perturb() adds to each gradient is drawn from the law fitted to Z at that step."""
    torch.manual_seed(0)
    net = build_model(EXP["model"], (1,), 1)
    noise = NoiseSpec.from_config(EXP["noise"], net.n_layers)
    loss = per_example_loss("regression")
    rep = Replacement(
        rule,
        net,
        noise,
        "regression",
        loss,
        mean="lm",
        m=4,
        refit_every=5,
        mean_sampler=NoiseSampler(noise, net.activation_shapes, torch.Generator().manual_seed(1)),
        generator=torch.Generator().manual_seed(2),
    )
    x, y = torch.from_numpy(sinusoids.x_train), torch.from_numpy(sinusoids.y_train)
    obj, _ = rep.objective(x, y)
    obj.backward()
    before = {n: p.grad.clone() for n, p in net.named_parameters()}
    rep.perturb(0, x, y)
    law = rep.laws["layers.1.weight"]  # 64 x 64 entries, rank-1 scales
    # The output layer has one row: its weight and bias share one pooled law, no scales.
    assert rep.laws["layers.2.bias"] is rep.laws["layers.2.weight"]
    assert "scales" not in rep.laws["layers.2.bias"]
    assert (
        rep.laws["layers.1.bias"]["alpha" if rule != "replace_gauss" else "std"]
        == law["alpha" if rule != "replace_gauss" else "std"]
    )  # a bias shares its weight's standardised law
    xi = (net.layers[1].weight.grad - before["layers.1.weight"]).double()
    scales = law["scales"].double()
    live = scales > 0
    standard = (xi[live] / scales[live]).numpy()
    assert torch.equal(xi[~live], torch.zeros_like(xi[~live]))  # dead entries get no noise
    if rule == "replace_gauss":
        assert standard.std() == pytest.approx(law["std"], rel=0.1)
        return
    r = fit(standard, parametrization="S1" if rule == "replace_s1" else "S0", uncertainty="none")
    assert r.alpha == pytest.approx(law["alpha"], abs=0.15)
    assert r.scale == pytest.approx(law["scale"], rel=0.15)


def test_rank1_scales_recover_row_and_column_scales():
    rng = np.random.default_rng(0)
    r, c = np.exp(rng.normal(0, 1.5, 200)), np.exp(rng.normal(0, 1.5, 150))
    z = np.outer(r, c) * rng.standard_normal((200, 150))
    z[:, 3] = 0.0  # a dead input: no noise reaches its weights
    s = rank1_scales(z)
    assert (s[:, 3] == 0).all()
    ratio = np.delete(s / np.outer(r, c), 3, axis=1)
    assert ratio.std() / ratio.mean() < 0.15  # r_i c_j up to one constant


def test_tensor_scale_model_pools_each_tensor():
    z = {"l.weight": torch.randn(8, 8, dtype=torch.float64), "l.bias": torch.randn(1)}
    laws = fit_laws(z, "S1", "tensor")
    assert "scales" not in laws["l.weight"] and laws["l.bias"] is None  # one entry: no law
    with pytest.raises(ValueError, match="replace_scale"):
        fit_laws(z, "S1", "rows")


def crash_at(step):
    def on_step(s):
        if s == step:
            raise RuntimeError("simulated kill")

    return on_step


def test_replacement_resume_is_bit_identical(tmp_path, sinusoids):
    """The replacement generator and the current laws live in the checkpoint."""
    kw = dict(run="replace_s0", seed=0, checkpoint_every=4, log=None)
    ref = train_run(EXP, sinusoids, out_dir=tmp_path / "ref", **kw)
    with pytest.raises(RuntimeError):
        train_run(
            EXP,
            sinusoids,
            out_dir=tmp_path / "a",
            state_dir=tmp_path / "s",
            on_step=crash_at(7),
            **kw,
        )
    res = train_run(EXP, sinusoids, out_dir=tmp_path / "a", state_dir=tmp_path / "s", **kw)
    assert res.resumed_from == 4
    cols = ["step", "train_loss", "test_loss", "objective"]
    pd.testing.assert_frame_equal(res.metrics[cols], ref.metrics[cols])
    for k, v in ref.net.state_dict().items():
        assert torch.equal(res.net.state_dict()[k], v), k
    assert np.isfinite(ref.metrics["train_loss"]).all()


def test_arms_differ_and_explicit_mean_logs_r(tmp_path, sinusoids):
    m4 = train_run(EXP, sinusoids, run="m4", seed=0, out_dir=tmp_path / "m4", log=None)
    finals = {}
    for rule in ("replace_s1", "replace_s0", "replace_gauss"):
        res = train_run(EXP, sinusoids, run=rule, seed=0, out_dir=tmp_path / rule, log=None)
        finals[rule] = res.net.layers[1].weight.detach()
        # the mean objective sees the same noise stream as m4: the same objective at step 0..4
        assert res.metrics["objective"][1] == pytest.approx(m4.metrics["objective"][1], rel=0.05)
    assert not torch.equal(finals["replace_s1"], finals["replace_s0"])
    exp = copy.deepcopy(EXP)
    exp["training"]["replace_mean"] = "explicit"
    res = train_run(exp, sinusoids, run="replace_gauss", seed=0, out_dir=tmp_path / "e", log=None)
    assert res.metrics["regulariser"][1:].gt(0).all()

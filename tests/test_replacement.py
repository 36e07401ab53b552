"""The replacement arms: xi follows the law of Z, the authors' arm is their scheme, resume is
exact, and with xi = 0 an arm is its control run."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gnitails.config import ConfigError
from gnitails.data.sinusoids import make_sinusoids
from gnitails.gni import NoiseSampler, NoiseSpec, injector
from gnitails.losses import per_example_loss
from gnitails.models import build_model
from gnitails.replacement import (
    CHECK_COLUMNS,
    Replacement,
    draw,
    entry_scales,
    fit_authors_laws,
    fit_entry_laws,
    single_draw_gradients,
    standardised_sample,
)
from gnitails.runs import RunSpec, planned_runs
from gnitails.stable import fit, sample
from gnitails.training import CHECKS_FILE, train_run, validate_experiment

ARMS = ["replace_s1", "replace_gauss", "replace_authors", "replace_authors_gauss"]
EXP = {
    "dataset": "sinusoids",
    "model": {"arch": "mlp", "width": 64, "depth": 2},
    "noise": {"mode": "additive", "sigma": 0.1},
    "training": {
        "rules": ["gni_m", "explicit", *ARMS],
        "m_values": [1, 4],
        "lr": 0.05,
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
    names = [r.name for r in planned_runs(validate_experiment(EXP))]
    assert names[:4] == ["m1", "m4", "explicit", "replace_s1"]
    assert names[4:] == ["replace_gauss", "replace_authors", "replace_authors_gauss"]
    assert RunSpec.parse("replace_authors_gauss") == RunSpec(*["replace_authors_gauss"] * 2, 1)
    with pytest.raises(ValueError, match="replace_s0"):
        RunSpec.parse("replace_s0")  # the authors' S0 arm is now replace_authors


def test_replace_draws_needs_sixteen():
    exp = copy.deepcopy(EXP)
    exp["training"]["replace_draws"] = 8
    with pytest.raises(ConfigError, match=r"training\.replace_draws"):
        validate_experiment(exp)


# --------------------------------------------------------------------------- laws and draws


@pytest.mark.parametrize("alpha", [1.5, 1.0, 1.003, 2.0])
def test_draw_is_the_law_with_its_location(alpha):
    """xi follows the law as given, location included, in S0 form (continuous at alpha = 1)."""
    law = {"alpha": alpha, "beta": -0.7, "scale": 0.01, "loc": 0.003}
    x = draw(law, (100_000,), torch.Generator().manual_seed(0), torch.float64).numpy()
    if alpha == 2.0:  # N(loc, 2 scale^2)
        assert x.std() == pytest.approx(math.sqrt(2) * 0.01, rel=0.02)
        assert x.mean() == pytest.approx(0.003, abs=2e-4)
        return
    r = fit(x, "ecf", "S0", uncertainty="none")
    assert r.alpha == pytest.approx(alpha, abs=0.03) and r.beta == pytest.approx(-0.7, abs=0.07)
    assert r.scale == pytest.approx(0.01, rel=0.03) and r.loc == pytest.approx(0.003, abs=5e-4)
    # In S1 form the location-0 law at alpha = 1.003 sits ~161 scales away; S0 stays put.
    assert abs(np.median(x) - 0.003) < 0.02


def test_draw_scales_and_numpy_path():
    scales = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    law = {"alpha": 1.7, "beta": 0.2, "scale": 1.0, "loc": 0.0, "scales": scales}
    t = draw(law, (2, 2), torch.Generator().manual_seed(0))
    assert t[0, 0] == 0 and t.shape == (2, 2)  # a dead entry gets no noise
    n = draw(law, (5, 2, 2), np.random.default_rng(0))
    assert n.shape == (5, 2, 2) and (n[:, 0, 0] == 0).all()
    law["active"] = torch.tensor([[1.0, 1.0], [0.25, 0.0]])  # entry [1, 1]: never active
    for gen in (torch.Generator().manual_seed(1), np.random.default_rng(1)):
        x = np.asarray(draw(law, (4000, 2, 2), gen))
        assert (x[:, 0, 1] != 0).all() and (x[:, 1, 1] == 0).all()
        assert (x[:, 1, 0] != 0).mean() == pytest.approx(0.25, abs=0.03)


def test_k_draw_scales_identify_per_entry_scales():
    """Known per-entry scales (spread over 3 decades) are recovered from K = 16 draws, dead
    entries get scale 0, and the pooled standardised sample has the entries' law."""
    rng = np.random.default_rng(0)
    true = np.exp(rng.normal(0, 1.5, 4000))
    offsets = rng.normal(0, 5, 4000) * true  # per-entry centres (e.g. the kink term)
    z = offsets + true * rng.standard_normal((16, 4000))
    z[:, :10] = 1.5  # dead entries: every draw equal
    centre, scale, share = entry_scales(z)
    assert (scale[:10] == 0).all() and (share[:10] == 0).all() and (share[10:] == 1).all()
    log_ratio = np.log(scale[10:] / true[10:])
    # up to a common factor (-6% at K = 16), which the fitted law's gamma absorbs
    assert abs(np.median(log_ratio)) < 0.1 and log_ratio.std() < 0.25  # K = 16: sd ~0.19
    s, scales, _ = standardised_sample(z)
    assert s.size == 16 * 3990 and abs(s.mean()) < 1e-12 and (scales[:10] == 0).all()
    assert fit(s, uncertainty="none").alpha > 1.95  # Gaussian entries: a Gaussian law
    heavy = true * sample(1.5, 0.5, 1.0, 0.0, (16, 4000), seed=1)
    r = fit(standardised_sample(heavy)[0], uncertainty="none")
    assert r.alpha == pytest.approx(1.5, abs=0.1) and r.beta > 0.2


def test_tied_draws_are_a_point_mass_not_a_heavy_tail():
    """Units that only some draws switch on leave Z_kj exactly at the centre in the other draws.
    Those ties become each entry's inactive share (xi_j = 0 as often), not a point mass in the
    pooled sample: Gaussian active draws still fit alpha ~ 2, and xi matches Z's quantiles."""
    rng = np.random.default_rng(2)
    k, n = 16, 4000
    share = rng.uniform(0.1, 1.0, n)
    on = rng.random((k, n)) < share
    on[0] = True  # every entry active at least once
    offset = rng.normal(0, 1, n)
    z = offset + np.where(on, rng.standard_normal((k, n)), 0.0)
    centre, scale, got = entry_scales(z)
    tied = on.mean(0) < 0.5  # the median is the inactive value only if most draws are
    assert np.array_equal(centre[tied], offset[tied])
    assert np.allclose(got[tied], on.mean(0)[tied])
    s, _, _ = standardised_sample(z)
    assert fit(s, uncertainty="none").alpha > 1.9  # pooling the ties fits alpha ~ 1
    law = {"alpha": 2.0, "beta": 0.0, "scale": 1 / math.sqrt(2), "loc": 0.0}
    t = {"l.weight": torch.from_numpy(z)}
    laws = fit_entry_laws(t, gauss=True)
    xi = draw(laws["l.weight"], z.shape, np.random.default_rng(3))
    zero_z, zero_xi = (z == centre).mean(), (xi == 0).mean()
    assert zero_xi == pytest.approx(zero_z, abs=0.01)
    q = np.quantile(np.abs(xi), 0.99) / np.quantile(np.abs(z - centre), 0.99)
    assert q == pytest.approx(1.0, abs=0.15)
    assert law["alpha"] == laws["l.weight"]["alpha"]


def test_entry_laws_share_one_law_per_layer():
    rng = np.random.default_rng(1)
    z = {
        "l.weight": torch.from_numpy(rng.standard_normal((16, 8, 8)) * 3.0),
        "l.bias": torch.from_numpy(rng.standard_normal((16, 8)) * 0.1),
    }
    z["l.bias"][:, 0] = 0.0  # a dead unit
    laws = fit_entry_laws(z, gauss=False)
    assert laws["l.weight"]["alpha"] == laws["l.bias"]["alpha"]
    assert laws["l.weight"]["scales"].shape == (8, 8) and laws["l.bias"]["scales"][0] == 0
    assert laws["l.bias"]["active"][0] == 0 and (laws["l.weight"]["active"] == 1).all()
    assert laws["l.weight"]["scales"].mean() == pytest.approx(3.0, rel=0.1)
    gauss = fit_entry_laws(z, gauss=True)["l.weight"]
    assert gauss["alpha"] == 2.0 and gauss["loc"] == 0.0
    assert gauss["scale"] == pytest.approx(laws["l.weight"]["scale"])


def test_authors_laws_pool_the_weights_raw_entries():
    """One law per weight from its pooled raw entries, location 0 (S0); biases get none."""
    x = sample(1.4, 0.6, 0.02, 0.05, (60, 50), parametrization="S0", seed=3)
    x[0, :] = 0.0  # exact zeros (dead entries) are left out of the fit
    z0 = {"l.weight": torch.from_numpy(x), "l.bias": torch.from_numpy(x[:, 0].copy())}
    laws = fit_authors_laws(z0, gauss=False)
    assert laws["l.bias"] is None and "scales" not in laws["l.weight"]
    r = fit(x[1:].ravel(), "ecf", "S0", uncertainty="none", moments=False)
    assert laws["l.weight"]["alpha"] == pytest.approx(r.alpha)
    assert laws["l.weight"]["scale"] == pytest.approx(r.scale) and laws["l.weight"]["loc"] == 0
    g = fit_authors_laws(z0, gauss=True)["l.weight"]
    assert (g["alpha"], g["loc"]) == (2.0, 0.0) and g["scale"] == pytest.approx(r.scale)


def test_single_draw_gradients_equal_a_loop(sinusoids):
    net = build_model(EXP["model"], (1,), 1)
    spec = NoiseSpec.from_config(EXP["noise"], net.n_layers)
    loss = per_example_loss("regression")
    x, y = torch.from_numpy(sinusoids.x_train), torch.from_numpy(sinusoids.y_train)
    eps = NoiseSampler(spec, net.activation_shapes, torch.Generator().manual_seed(0)).draw(
        3 * len(x)
    )
    g = single_draw_gradients(net, x, y, loss, spec, eps)
    for k in range(3):
        e = {j: v[k * len(x) : (k + 1) * len(x)] for j, v in eps.items()}
        one = loss(net(x, tap=injector(spec, e)), y).mean()
        grads = torch.autograd.grad(one, list(net.parameters()))
        for (name, _), gk in zip(net.named_parameters(), grads, strict=True):
            torch.testing.assert_close(g[name][k], gk, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- in training


def _replacement(rule, net, generator_seed=2):
    noise = NoiseSpec.from_config(EXP["noise"], net.n_layers)
    return Replacement(
        rule,
        net,
        noise,
        "regression",
        per_example_loss("regression"),
        mean="explicit",
        m=4,
        refit_every=1,
        mean_sampler=NoiseSampler(noise, net.activation_shapes, torch.Generator().manual_seed(1)),
        generator=torch.Generator().manual_seed(generator_seed),
    )


@pytest.mark.parametrize("rule", ["replace_s1", "replace_gauss", "replace_authors"])
def test_corrected_arms_match_z_in_law(rule, sinusoids):
    """At refits along an SGD path, xi is within a small factor of Z per tensor (median norm,
    99% quantile); the authors' pooled law, on the same path, misses by far more."""
    net = build_model(EXP["model"], (1,), 1, generator=torch.Generator().manual_seed(0))
    rep = _replacement(rule, net)
    x, y = torch.from_numpy(sinusoids.x_train), torch.from_numpy(sinusoids.y_train)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for step in range(30):
        obj, _ = rep.objective(x, y)
        opt.zero_grad()
        obj.backward()
        if step % 10 == 0:
            rep.perturb(step, x, y)  # refit_every = 1: a refit and its check
        opt.step()
    checks = pd.DataFrame(rep.checks)
    assert len(checks) == 3 * 6 and list(checks.columns) == list(CHECK_COLUMNS)
    sizes = {n: p.numel() for n, p in net.named_parameters()}
    big = checks[checks["tensor"].map(sizes) >= 64]  # the output bias is one entry
    if rule == "replace_authors":  # pooled raw entries: a scale mixture, alpha < 1 here
        hidden = checks[checks["tensor"] == "layers.1.weight"]
        assert hidden["norm_ratio"].max() > 5 and hidden["alpha"].min() < 1.2
        return
    assert big["norm_ratio"].between(0.5, 2.0).all(), big
    assert big["q99_ratio"].between(1 / 3, 3.0).all(), big
    assert checks["norm_ratio"].between(0.25, 4.0).all(), checks
    if rule == "replace_gauss":
        assert (checks["alpha"] == 2.0).all() and big["max_ratio"].lt(3).all()


def test_authors_arm_is_weights_only_s0_loc0_pooled(sinusoids):
    net = build_model(EXP["model"], (1,), 1)
    rep = _replacement("replace_authors", net)
    x, y = torch.from_numpy(sinusoids.x_train), torch.from_numpy(sinusoids.y_train)
    obj, _ = rep.objective(x, y)
    obj.backward()
    before = {n: p.grad.clone() for n, p in net.named_parameters()}
    rep.perturb(0, x, y)
    for name, p in net.named_parameters():
        if name.endswith("bias"):
            assert torch.equal(p.grad, before[name]) and rep.laws[name] is None
    law = rep.laws["layers.1.weight"]
    assert law["loc"] == 0.0 and "scales" not in law
    xi = (net.layers[1].weight.grad - before["layers.1.weight"]).double().numpy().ravel()
    r = fit(xi, "ecf", "S0", uncertainty="none")  # 4096 i.i.d. entries of the pooled law
    assert r.alpha == pytest.approx(law["alpha"], abs=0.15)
    assert r.scale == pytest.approx(law["scale"], rel=0.15)
    assert abs(np.median(xi)) < 0.5 * law["scale"]  # location 0 in S0, not S1


def crash_at(step):
    def on_step(s):
        if s == step:
            raise RuntimeError("simulated kill")

    return on_step


@pytest.mark.parametrize(
    ("rule", "every"), [("replace_s1", 4), ("replace_s1", 5), ("replace_authors", 4)]
)
def test_replacement_resume_is_bit_identical(tmp_path, sinusoids, rule, every):
    """The replacement generator, the current laws, the drawn-ahead noise (redrawn from its
    generator state) and the check rows live in the checkpoint; saved mid-period (4) or at a
    refit (5)."""
    kw = dict(run=rule, seed=0, checkpoint_every=every, log=None)
    exp = copy.deepcopy(EXP)
    exp["training"]["lr"] = 0.001  # the authors' arm stays finite for a few steps
    ref = train_run(exp, sinusoids, out_dir=tmp_path / "ref", **kw)
    with pytest.raises(RuntimeError):
        train_run(
            exp, sinusoids, out_dir=tmp_path / "a", state_dir=tmp_path / "s",
            on_step=crash_at(7), **kw,
        )  # fmt: skip
    res = train_run(exp, sinusoids, out_dir=tmp_path / "a", state_dir=tmp_path / "s", **kw)
    assert res.resumed_from == every
    cols = ["step", "train_loss", "test_loss", "objective"]
    pd.testing.assert_frame_equal(res.metrics[cols], ref.metrics[cols])
    for k, v in ref.net.state_dict().items():
        assert torch.equal(res.net.state_dict()[k], v), k
    checks = pd.read_parquet(tmp_path / "a" / CHECKS_FILE)
    pd.testing.assert_frame_equal(checks, pd.read_parquet(tmp_path / "ref" / CHECKS_FILE))
    assert (
        sorted(set(checks["step"])) == [0, 5, 10] and np.isfinite(ref.metrics["train_loss"]).all()
    )


@pytest.mark.parametrize(("mean", "control"), [("lm", "m4"), ("explicit", "explicit")])
def test_xi_zero_is_the_control_run(tmp_path, sinusoids, monkeypatch, mean, control):
    """Without its noise an arm is exactly its control: same mean objective, same streams."""
    exp = copy.deepcopy(EXP)
    exp["training"]["replace_mean"] = mean
    ref = train_run(exp, sinusoids, run=control, seed=0, out_dir=tmp_path / "c", log=None)
    monkeypatch.setattr(Replacement, "xi", lambda self, step: {})
    logged = []
    res = train_run(
        exp, sinusoids, run="replace_s1", seed=0, out_dir=tmp_path / "r", log=logged.append,
        where="experiments.t",
    )  # fmt: skip
    cols = ["step", "train_loss", "test_loss", "objective", "regulariser"]
    pd.testing.assert_frame_equal(res.metrics[cols], ref.metrics[cols])
    for k, v in ref.net.state_dict().items():
        assert torch.equal(res.net.state_dict()[k], v), k
    refits = [m for m in logged if "replacement refit" in m]
    assert len(refits) == 3 and refits[0].startswith("t replace_s1 seed 0:")
    if mean == "explicit":
        assert res.metrics["regulariser"][1:].gt(0).all()

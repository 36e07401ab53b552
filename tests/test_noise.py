"""Gradient-noise dumps: Z against closed forms, vectorised vs loop, forward noise, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gnitails.data.sinusoids import make_sinusoids
from gnitails.gni import NoiseSampler, NoiseSpec
from gnitails.losses import per_example_loss
from gnitails.models import build_model
from gnitails.noise import (
    COLUMNS,
    DumpSpec,
    compute_dump,
    coords_sample,
    draw_noise,
    draws_sample,
    dump_meta,
    explicit_gradient,
    fit_dumps,
    forward_noise,
    load_dump,
    mean_gradient,
    mean_gradient_from,
    per_draw_gradients,
    per_draw_gradients_loop,
    save_dump,
    typical_coordinate,
)
from gnitails.noise.gradients import subtract
from gnitails.tails import SAMPLE_OF_VIEW, view_sample

SIGMA = 0.3
LOSS = per_example_loss("regression")


def linear_setup(zero_weights: bool = False, zero_residual: bool = False):
    """y^ = W(x + eps) + b with additive input noise, squared error summed over outputs."""
    torch.manual_seed(0)
    net = build_model({"arch": "mlp", "depth": 0}, (3,), 2)
    x = torch.randn(6, 3)
    y = torch.randn(6, 2)
    with torch.no_grad():
        if zero_weights:
            net.layers[0].weight.zero_()
        if zero_residual:
            y = net(x)
    spec = NoiseSpec("additive", (SIGMA, 0.0))
    return net, x, y, spec


def analytic_z(net, x, y, e):
    """Our scaling (mean_n sum_j (y^ - y)^2, no 1/2) gives twice the digest's terms, per
    example, averaged: Z_W = 2 mean_n[-r e^T + W e x^T + W(e e^T - sigma^2 I)], Z_b = 2 mean W e.
    Returns the three weight terms and the bias noise."""
    w, b = net.layers[0].weight.detach(), net.layers[0].bias.detach()
    r = y - x @ w.T - b
    n, d = x.shape
    t1 = -2 * r.T @ e / n
    t2 = 2 * w @ e.T @ x / n
    t3 = 2 * w @ (e.T @ e / n - SIGMA**2 * torch.eye(d))
    return (t1, t2, t3), 2 * (e @ w.T).mean(0)


@pytest.mark.parametrize(
    "case", ["general", "zero_weights", "zero_residual"], ids=["all", "W=0: -r e^T", "r=0"]
)
def test_z_r_equals_the_closed_form_term_by_term(case):
    """For this model E grad L~ = grad(L + R) exactly (R = sigma^2 ||W||_F^2), so Z_R is the
    closed form; W = 0 leaves only -r e^T, r = 0 only the two W terms."""
    net, x, y, spec = linear_setup(case == "zero_weights", case == "zero_residual")
    eps = draw_noise(
        NoiseSampler(spec, net.activation_shapes, torch.Generator().manual_seed(1)), 5, len(x)
    )
    z_r = subtract(
        per_draw_gradients(net, x, y, LOSS, spec, eps),
        explicit_gradient(net, x, y, "regression", LOSS, spec),
    )
    for d in range(5):
        terms, zb = analytic_z(net, x, y, SIGMA * eps[0][d])
        if case == "zero_weights":
            assert terms[1].abs().max() == 0 and terms[2].abs().max() == 0
        if case == "zero_residual":
            assert terms[0].abs().max() < 1e-6
        torch.testing.assert_close(z_r["layers.0.weight"][d], sum(terms), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z_r["layers.0.bias"][d], zb, rtol=1e-5, atol=1e-6)


def test_z_mc_equals_the_closed_form_minus_its_mc_mean():
    """Z = grad L~(eps) - mean_m grad L~(eps_m) = Z(eps) - mean_m Z(eps_m), term by term."""
    net, x, y, spec = linear_setup()
    gen = torch.Generator().manual_seed(2)
    sampler = NoiseSampler(spec, net.activation_shapes, gen)
    eps = draw_noise(sampler, 3, len(x))
    state = gen.get_state()
    mean = mean_gradient(net, x, y, LOSS, spec, 50, sampler)
    gen.set_state(state)
    mean_eps = draw_noise(sampler, 50, len(x))
    # the tiled mean is the naive mean of the same draws
    naive = mean_gradient_from(net, x, y, LOSS, spec, mean_eps)
    for k in mean:
        torch.testing.assert_close(mean[k], naive[k], rtol=1e-5, atol=1e-7)
    z = subtract(per_draw_gradients(net, x, y, LOSS, spec, eps), mean)
    mc_w = sum(sum(analytic_z(net, x, y, SIGMA * mean_eps[0][m])[0]) for m in range(50)) / 50
    for d in range(3):
        expected = sum(analytic_z(net, x, y, SIGMA * eps[0][d])[0]) - mc_w
        torch.testing.assert_close(z["layers.0.weight"][d], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_vectorised_per_draw_gradients_equal_the_loop(mode, task):
    torch.manual_seed(3)
    out_dim = 4 if task == "classification" else 2
    net = build_model({"arch": "mlp", "width": 8, "depth": 2}, (5,), out_dim)
    x = torch.randn(10, 5)
    y = torch.randint(0, 4, (10,)) if task == "classification" else torch.randn(10, 2)
    spec = NoiseSpec.from_config({"mode": mode, "sigma": 0.2}, net.n_layers)
    sampler = NoiseSampler(spec, net.activation_shapes, torch.Generator().manual_seed(4))
    eps = draw_noise(sampler, 6, len(x))
    loss = per_example_loss(task)
    vec = per_draw_gradients(net, x, y, loss, spec, eps, chunk=4)
    loop = per_draw_gradients_loop(net, x, y, loss, spec, eps)
    for k in vec:
        torch.testing.assert_close(vec[k], loop[k], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_forward_noise_of_layer_0_is_the_injected_noise(mode):
    torch.manual_seed(5)
    net = build_model({"arch": "mlp", "width": 8, "depth": 2}, (3,), 1)
    x = torch.randn(7, 3)
    spec = NoiseSpec.from_config({"mode": mode, "sigma": 0.2}, net.n_layers)
    eps = draw_noise(
        NoiseSampler(spec, net.activation_shapes, torch.Generator().manual_seed(6)), 4, len(x)
    )
    noise = forward_noise(net, x, spec, eps)
    injected = 0.2 * (x * eps[0]) if mode == "multiplicative" else 0.2 * eps[0]
    assert torch.equal(noise[0], injected)
    assert [tuple(f.shape) for f in noise] == [(4, 7, 3), (4, 7, 8), (4, 7, 8), (4, 7, 1)]
    assert noise[1].abs().sum() > 0 and noise[3].abs().sum() > 0  # the noise propagates


@pytest.fixture(scope="module")
def small_dump():
    data = make_sinusoids(seed=0, n_train=40, n_test=10)
    net = build_model({"arch": "mlp", "width": 8, "depth": 2}, (1,), 1)
    spec = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, net.n_layers)
    dump = DumpSpec.from_config(dict(m=10, draws=24, forward_draws=5, minibatch_size=8))
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    arrays = compute_dump(net, x, y, "regression", spec, dump, seed=1, step=0)
    return net, spec, dump, x, y, arrays


def test_dump_keys_shapes_and_determinism(tmp_path, small_dump):
    net, spec, dump, x, y, arrays = small_dump
    for q in ("z_mc", "z_r", "minibatch"):
        for k in (1, 2, 3):
            assert arrays[f"{q}/weight/{k}"].shape == (24, *net.layers[k - 1].weight.shape)
            assert arrays[f"{q}/bias/{k}"].shape == (24, *net.layers[k - 1].bias.shape)
    assert [arrays[f"forward/{k}"].shape for k in range(4)] == [
        (5, 40, 1),
        (5, 40, 8),
        (5, 40, 8),
        (5, 40, 1),
    ]
    assert all(a.dtype == np.float32 for a in arrays.values())
    again = compute_dump(net, x, y, "regression", spec, dump, seed=1, step=0)
    other = compute_dump(net, x, y, "regression", spec, dump, seed=2, step=0)
    assert all(np.array_equal(arrays[k], again[k]) for k in arrays)
    assert not np.array_equal(arrays["z_mc/weight/2"], other["z_mc/weight/2"])
    # Z and Z_R share the draw: they differ by a constant (the two means) across draws
    diff = arrays["z_mc/weight/2"] - arrays["z_r/weight/2"]
    np.testing.assert_allclose(diff, np.broadcast_to(diff[0], diff.shape), atol=1e-6)
    meta = dump_meta(net, spec, dump, arrays, experiment="e", run="m1", seed=1, step=0)
    save_dump(tmp_path / "a.npz", arrays, meta)
    save_dump(tmp_path / "b.npz", again, meta)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded, meta2 = load_dump(tmp_path / "a.npz")
    assert meta2 == meta and meta2["m"] == 10 and meta2["layer_names"][0] == "input"
    assert all(np.array_equal(loaded[k], arrays[k]) for k in arrays)


def test_samples_and_fits_table(tmp_path, small_dump):
    net, spec, dump, x, y, arrays = small_dump
    a = arrays["z_mc/weight/2"]
    assert coords_sample(a).shape == (64,) and np.array_equal(coords_sample(a), a[0].ravel())
    i = typical_coordinate(a)
    assert np.array_equal(draws_sample(a), a.reshape(24, -1)[:, i]) and draws_sample(a).std() > 0
    meta = dump_meta(net, spec, dump, arrays, experiment="e", run="m1", seed=1, step=7)
    save_dump(tmp_path / "s.npz", arrays, meta)
    table = fit_dumps([tmp_path / "s.npz"], ["ecf", "mohammadi"], n_boot=0, n_null=39)
    assert tuple(table.columns) == COLUMNS
    assert set(table["quantity"]) == {"z_mc", "z_r", "minibatch", "forward"}
    assert set(table["sample"]) == {"coords", "draws", "standardized", "per_coordinate"}
    assert (table["step"] == 7).all()
    # Only matrices get a standardized sample: biases are vectors.
    assert set(table.loc[table["sample"] == "standardized", "param"]) == {"weight", "activation"}
    # Z's two views, ECF rows, carry the null; every other row is descriptive.
    tested = table[table["n_null"] > 0]
    assert set(tested["quantity"]) == {"z_mc"} and set(tested["estimator"]) == {"ecf"}
    assert set(tested["sample"]) == {"standardized", "per_coordinate"}
    assert (tested["n_null"] == 39).all() and tested["heavy"].notna().all()
    assert (tested["null_alpha_lo"] <= tested["null_alpha_med"]).all()
    assert tested["p_alpha"].between(1 / 40, 1).all()  # (1 + hits) / 40
    assert table.loc[table["n_null"] == 0, "heavy"].isna().all()
    per_coord = table["sample"] == "per_coordinate"
    w2 = table[(table.layer == 2) & (table.param == "weight") & (table.estimator == "ecf")]
    w2 = w2[w2.quantity == "z_mc"].set_index("sample")
    kept = w2.loc["per_coordinate", "n"] / 24  # coordinates of the 8 x 8 W2 in the view
    assert w2.loc["per_coordinate", "dead_fraction"] == pytest.approx(1 - kept / 64)
    assert w2.loc["per_coordinate", "dead_fraction"] >= w2.loc["coords", "dead_fraction"]
    assert table.loc[per_coord, "coord_kurtosis_med"].notna().any()
    assert table.loc[~per_coord, ["coord_kurtosis_med", "coord_kurtosis_q90"]].isna().all().all()
    w2 = tested[(tested.layer == 2) & (tested.param == "weight")]
    views = {s: view_sample(a, v).size for v, s in SAMPLE_OF_VIEW.items()}
    assert w2.set_index("sample")["n"].to_dict() == views and views["per_coordinate"] % 24 == 0
    ecf = table[table.estimator == "ecf"]
    fitted = ecf[ecf["note"] == ""]
    assert fitted["alpha"].between(0.1, 2).all() and fitted["beta"].between(-1, 1).all()
    assert (fitted["parametrization"] == "S1").all()
    # the 1-unit output bias has one coordinate: no fit, NaN and a note
    tiny = ecf[
        (ecf.quantity == "z_mc")
        & (ecf.layer == 3)
        & (ecf.param == "bias")
        & (ecf["sample"] == "coords")
    ]
    assert tiny["alpha"].isna().all() and tiny["note"].str.contains("too few").all()
    moh = table[table.estimator == "mohammadi"]
    assert moh["beta"].isna().all() and moh["alpha"].notna().any()
    pd.testing.assert_frame_equal(  # the nulls are seeded by the dump's ids
        table, fit_dumps([tmp_path / "s.npz"], ["ecf", "mohammadi"], n_boot=0, n_null=39)
    )


def test_standardized_sample_removes_a_rank1_scale_mixture():
    """A Gaussian matrix with wildly different row and column scales looks heavy-tailed when
    pooled (alpha-hat far below 2) and Gaussian again once standardised."""
    from gnitails.scales import standardize
    from gnitails.stable import fit

    rng = np.random.default_rng(3)
    r, c = np.exp(rng.normal(0, 1.5, 300)), np.exp(rng.normal(0, 1.5, 200))
    z = np.outer(r, c) * rng.standard_normal((300, 200))
    assert fit(z.ravel(), uncertainty="none").alpha < 1.0
    assert fit(standardize(z), uncertainty="none").alpha > 1.9

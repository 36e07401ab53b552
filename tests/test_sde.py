"""Lévy-driven SDE engine: noise, potentials, Euler scheme and closed forms, checked by simulation.

Every sign in closed_forms.py is checked here against a simulation, not against its docstring.
Tolerances are Monte-Carlo ones: a fitted parameter within 4 standard errors (Cramér-Rao), a
location inside a widened confidence interval, a KS test at the 1e-3 level.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gnitails.sde import (
    DoubleWell,
    LevyIncrements,
    Quadratic,
    Quartic,
    SimulationDiverged,
    euler_ou_law,
    increment_affine,
    load_custom,
    make_potential,
    mean_ci,
    median_ci,
    mode_kde,
    ou_stationary,
    sgd_stationary_mean,
    simulate,
    standard_s0_median,
    standard_s0_mode,
)
from gnitails.sde.potentials import solve_depressed_cubic
from gnitails.stable import fit, sample


def within(fitres, alpha, beta, scale, loc, k=4.0):
    """Each fitted parameter within k standard errors of the target."""
    for name, want in (("alpha", alpha), ("beta", beta), ("scale", scale), ("loc", loc)):
        got, se = getattr(fitres, name), fitres.se[name]
        assert abs(got - want) <= k * se + 1e-9, f"{name}: {got:.4f} vs {want:.4f} (se {se:.4f})"


# --- noise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha,beta", [(1.2, -1.0), (1.5, 0.5), (1.8, 1.0), (2.0, 0.7)])
def test_noise_matches_the_stable_toolkit_sampler(alpha, beta):
    """Our float32 CMS kernel against gnitails.stable.sample (float64, other code): 2-sample KS."""
    with LevyIncrements(alpha, beta, 1.0, 1.0, (10000, 2), seed=1) as gen:
        x = gen.block(2).ravel()
    y = sample(alpha, beta, 1.0, 0.0, 40000, seed=2)
    assert np.isfinite(x).all()
    assert stats.ks_2samp(x, y).pvalue > 1e-3


def test_noise_tails_follow_the_power_law():
    """P(Z > x) ~ C (1 + beta) x^-alpha far out: the float32 kernel keeps the heavy tails."""
    alpha, beta, n, x0 = 1.2, 0.5, 2_000_000, 200.0
    with LevyIncrements(alpha, beta, 1.0, 1.0, (n,), seed=3) as gen:
        z = gen.block(1).ravel()
    c = math.gamma(alpha) * math.sin(math.pi * alpha / 2) / math.pi
    for side, count in ((1 + beta, (z > x0).sum()), (1 - beta, (z < -x0).sum())):
        expected = n * c * side * x0**-alpha
        assert abs(count - expected) < 4 * math.sqrt(expected) + 0.02 * expected


def test_noise_is_deterministic_whatever_threads_and_blocks():
    kw = dict(alpha=1.5, beta=0.5, sigma=1.0, step=0.01, shape=(3000, 2))
    with LevyIncrements(**kw, seed=7, threads=1) as g1:
        a = np.concatenate([g1.block(3), g1.block(5)])
    with LevyIncrements(**kw, seed=7, threads=2) as g2:
        b = g2.block(8)
    assert np.array_equal(a, b)
    with LevyIncrements(**kw, seed=8) as g3:
        assert not np.array_equal(a[:1], g3.block(1))


def test_gaussian_limit_has_variance_two_sigma_squared_h():
    with LevyIncrements(2.0, 0.9, 0.5, 0.04, (200000,), seed=1) as gen:
        x = gen.block(1).ravel().astype(np.float64)
    assert abs(x.var() / (2 * 0.25 * 0.04) - 1) < 0.02
    assert abs(x.mean()) < 5 * x.std() / math.sqrt(x.size)


def test_increment_affine_shifts():
    a, b, s, h = 1.5, 0.5, 2.0, 0.01
    zeta = b * math.tan(math.pi * a / 2)
    assert increment_affine(a, b, s, h, "S1") == pytest.approx((s * h ** (1 / a), 0.0))
    assert increment_affine(a, b, s, h, "S0")[1] == pytest.approx(-s * zeta * h)
    assert increment_affine(a, b, s, h, "S0_per_step")[1] == pytest.approx(-s * h ** (1 / a) * zeta)


def test_torch_backend_on_cpu():
    pytest.importorskip("torch")
    pot = Quadratic(1.0)
    kw = dict(n_particles=20000, n_steps=150, seed=5, backend="torch", device="cpu")
    w1 = simulate(pot, 1.5, 0.5, 1.0, 0.04, **kw).states[:, 0]
    w2 = simulate(pot, 1.5, 0.5, 1.0, 0.04, **kw).states[:, 0]
    assert np.array_equal(w1, w2)
    law = euler_ou_law(1.5, 0.5, 1.0, 1.0, 0.04, n_steps=150)
    within(fit(w1), law.alpha, law.beta, law.scale, law.loc)
    kw.update(n_particles=2000, n_steps=100)
    w = simulate(DoubleWell(0.1), 1.5, 0.5, 0.5, 0.01, scheme="implicit", **kw).states
    assert np.isfinite(w).all()
    with pytest.raises(SimulationDiverged):
        simulate(Quartic(), 1.2, 1.0, 1.0, 0.05, **{**kw, "n_particles": 20000, "n_steps": 500})


def test_simulation_does_not_depend_on_threads_or_block_size():
    pot = Quadratic([1.0, 4.0], [0.5, -0.5])
    kw = dict(n_particles=5000, n_steps=300, seed=3)
    a = simulate(pot, 1.5, 0.5, 1.0, 0.01, threads=1, **kw).states
    b = simulate(pot, 1.5, 0.5, 1.0, 0.01, threads=2, block_bytes=1 << 16, **kw).states
    assert np.array_equal(a, b)


# --- potentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pot",
    [Quadratic([1.0, 10.0], [0.5, -1.0]), Quartic(0.5, 0.3, dim=2), DoubleWell(0.2, dim=2)],
    ids=["quadratic", "quartic", "double_well"],
)
def test_gradient_prox_and_minimiser(pot):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(50, pot.dim)) * 2
    eps = 1e-6
    for i in range(pot.dim):
        e = np.zeros(pot.dim)
        e[i] = eps
        num = (pot.value(w + e) - pot.value(w - e)) / (2 * eps)
        np.testing.assert_allclose(pot.grad(w)[:, i], num, rtol=1e-5, atol=1e-6)
    y = np.concatenate([w, [[1e9] * pot.dim, [-1e9] * pot.dim]])
    for h in (0.01, 0.5):
        v = pot.prox(y, h)
        np.testing.assert_allclose(v + h * pot.grad(v), y, rtol=1e-9, atol=1e-7)
    wstar = pot.minimizer[None]
    np.testing.assert_allclose(pot.grad(wstar), 0, atol=1e-9)
    assert pot.value(w).min() >= pot.f_min - 1e-12


def test_double_well_picks_the_deeper_well():
    assert DoubleWell(tilt=0.1).minimizer[0] < -1
    assert DoubleWell(tilt=-0.1).minimizer[0] > 1


def test_depressed_cubic_has_no_cancellation():
    p, q = np.array([1.0, 100.0, 0.5, 3.0]), np.array([-1e12, 3.0, 0.0, 1e-12])
    t = solve_depressed_cubic(p, q)
    resid = np.abs(t**3 + p * t + q)
    assert np.all(resid <= 1e-12 * np.maximum(1, np.abs(q)) + 1e-12 * np.abs(t) ** 3)


def test_make_potential_from_config_and_custom():
    pot = make_potential({"kind": "quadratic", "curvature": [1, 4], "center": 2.0})
    assert pot.dim == 2 and np.array_equal(pot.minimizer, [2.0, 2.0])
    custom = make_potential(
        {
            "kind": "custom",
            "target": "gnitails.sde.potentials:Quartic",
            "kwargs": {"kappa": 2.0},
        }
    )
    assert isinstance(custom, Quartic) and custom.kappa == 2.0
    with pytest.raises(ValueError, match="module:callable"):
        load_custom("no_colon")
    with pytest.raises(ValueError, match="cannot load"):
        load_custom("gnitails.sde.potentials:Nope")
    with pytest.raises(ValueError, match="unknown key"):
        make_potential({"kind": "quartic", "curvature": 1.0})
    with pytest.raises(ValueError, match="kind"):
        make_potential({"kind": "cosine"})
    with pytest.raises(ValueError, match="curvature must be positive"):
        Quadratic([1.0, -1.0])


# --- Euler scheme vs the exact AR(1) law ---------------------------------------------------


def test_euler_ou_s1_matches_its_exact_ar1_law():
    """Euler OU with S1 increments: stable fit and KS against the exact law of the scheme."""
    alpha, beta, sigma, theta, h, n = 1.5, 0.5, 0.7, 2.0, 0.02, 500
    w = simulate(Quadratic(theta, 1.0), alpha, beta, sigma, h, 40000, n, seed=11).states[:, 0]
    law = euler_ou_law(alpha, beta, sigma, theta, h, center=1.0, n_steps=n)
    within(fit(w), alpha, beta, law.scale, law.loc)
    exact = sample(alpha, beta, law.scale, law.loc, 40000, seed=12)
    assert stats.ks_2samp(w, exact).pvalue > 1e-3
    # the stationary law of the scheme differs from the SDE's at this h*theta = 0.04 ...
    sde = ou_stationary(alpha, beta, sigma, theta)
    assert law.scale != pytest.approx(sde.scale, rel=1e-3)
    # ... and converges to it as h -> 0
    small = euler_ou_law(alpha, beta, sigma, theta, 1e-6)
    assert small.scale == pytest.approx(sde.scale, rel=1e-4)


def test_euler_transient_from_an_offset_start():
    w = simulate(Quadratic(1.0), 1.8, -0.5, 1.0, 0.05, 40000, 20, w0=3.0, seed=2).states[:, 0]
    law = euler_ou_law(1.8, -0.5, 1.0, 1.0, 0.05, n_steps=20, w0=3.0)
    assert law.loc == pytest.approx(3.0 * 0.95**20)
    within(fit(w), 1.8, -0.5, law.scale, law.loc)


def test_overshooting_step_flips_beta():
    """h theta in (1, 2): q < 0, so the law's skewness shrinks as the closed form says."""
    alpha, beta, theta, h = 1.5, 1.0, 1.0, 1.5
    law = euler_ou_law(alpha, beta, 1.0, theta, h)
    qa = 0.5**alpha
    assert law.beta == pytest.approx((1 - qa) / (1 + qa))
    w = simulate(Quadratic(theta), alpha, beta, 1.0, h, 40000, 60, seed=3).states[:, 0]
    within(fit(w), alpha, law.beta, law.scale, law.loc)


def test_implicit_scheme_law():
    alpha, beta, h = 1.5, -0.5, 0.1
    w = simulate(Quadratic(2.0), alpha, beta, 1.0, h, 40000, 200, scheme="implicit", seed=4)
    law = euler_ou_law(alpha, beta, 1.0, 2.0, h, n_steps=200, scheme="implicit")
    within(fit(w.states[:, 0]), alpha, beta, law.scale, law.loc)


def test_s0_increments_are_s1_plus_the_exact_drift():
    """Same seed: S0 (with shift) and S1 runs differ by a deterministic, closed-form offset,
    and the S0 run's law is the S1 law with its location converted."""
    alpha, beta, sigma, theta, h, n = 1.5, 0.5, 1.0, 1.0, 0.01, 800
    pot = Quadratic(theta)
    kw = dict(seed=9, dtype=np.float64)  # float64 increments: the offset is exact to rounding
    w1 = simulate(pot, alpha, beta, sigma, h, 30000, n, increments="S1", **kw).states[:, 0]
    w0 = simulate(pot, alpha, beta, sigma, h, 30000, n, increments="S0", **kw).states[:, 0]
    zeta = beta * math.tan(math.pi * alpha / 2)
    offset = -sigma * zeta * h * (1 - (1 - h * theta) ** n) / (h * theta)
    np.testing.assert_allclose(w0 - w1, offset, rtol=1e-6, atol=1e-9)
    law0 = euler_ou_law(
        alpha, beta, sigma, theta, h, step_mean=increment_affine(alpha, beta, sigma, h, "S0")[1],
        n_steps=n,
    )  # fmt: skip
    assert law0.loc == pytest.approx(offset)
    f0 = fit(w0, parametrization="S0")
    s0_loc = law0.s0_loc
    assert abs(f0.loc - s0_loc) < 4 * f0.se["loc"]
    # converted: S0 driving with S0 location zeta is exactly the S1 driving (a mean of 0)
    assert law0.loc - offset == pytest.approx(0.0)


def test_divergence_raises_instead_of_nan():
    with pytest.raises(SimulationDiverged, match="implicit"):
        simulate(Quartic(), 1.2, 1.0, 1.0, 0.05, 20000, 2000, seed=1)
    w = simulate(Quartic(), 1.2, 1.0, 1.0, 0.05, 2000, 500, scheme="implicit", seed=1).states
    assert np.isfinite(w).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"alpha": 1.0}, "alpha must lie in"),
        ({"alpha": 2.5}, "alpha must lie in"),
        ({"alpha": float("nan")}, "alpha must be finite"),
        ({"beta": 1.5}, "beta must lie in"),
        ({"beta": "x"}, "beta must be a real"),
        ({"step": 0.0}, "step must be positive"),
        ({"step": float("inf")}, "step must be finite"),
        ({"sigma": -1.0}, "sigma must be positive"),
        ({"n_particles": 0}, "n_particles"),
        ({"increments": "S2"}, "increments"),
        ({"scheme": "rk4"}, "scheme"),
        ({"backend": "jax"}, "backend"),
        ({"step": 2.5}, "step \\* curvature < 2"),
    ],
)
def test_invalid_inputs_give_clear_errors(kwargs, match):
    args = {"alpha": 1.5, "beta": 0.0, "sigma": 1.0, "step": 0.01, "n_particles": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate(Quadratic(1.0), n_steps=5, **args)


# --- closed forms --------------------------------------------------------------------------


def test_standard_s0_mode_and_median_against_samples():
    x = sample(1.5, 0.5, 1.0, 0.0, 400000, parametrization="S0", seed=1)
    assert np.median(x) == pytest.approx(standard_s0_median(1.5, 0.5), abs=0.01)
    est, _ = mode_kde(x, n_boot=1)
    assert est.value == pytest.approx(standard_s0_mode(1.5, 0.5), abs=0.05)
    assert standard_s0_mode(2.0, 0.3) == 0.0
    # reflection: beta -> -beta mirrors the law
    assert standard_s0_mode(1.2, -0.5) == pytest.approx(-standard_s0_mode(1.2, 0.5), abs=1e-5)


def test_ou_stationary_signs():
    law = ou_stationary(1.5, 0.5, 1.0, 1.0)
    assert law.mean == 0.0
    assert law.s0_loc < 0 and law.mode < 0 < ou_stationary(1.5, -0.5, 1.0, 1.0).mode
    assert ou_stationary(2.0, 0.5, 1.0, 1.0).mode == 0.0
    assert law.scale == pytest.approx(1.5 ** (-1 / 1.5))


def test_sgd_form_mean_bias_by_direct_simulation():
    """w <- w - eta (theta (w - w*) + Z), Z ~ S0(alpha, beta, s, 0): plain loop, no engine."""
    alpha, beta, s, theta, eta, center = 1.5, 0.8, 0.5, 1.0, 0.05, 0.3
    rng = np.random.default_rng(0)
    w = np.full(40000, center)
    for _ in range(400):
        z = sample(alpha, beta, s, 0.0, w.size, parametrization="S0", seed=rng)
        w = w - eta * (theta * (w - center) + z)
    want = sgd_stationary_mean(alpha, beta, s, theta, center)
    assert want < center  # beta > 0, alpha in (1, 2): tan < 0, the mean moves down
    lo, hi = median_ci(w).lo, median_ci(w).hi  # sanity: the bulk moved too
    assert hi < center
    est = mean_ci(w, tail_alpha=alpha, tail_beta=-beta)
    half = est.hi - est.lo
    assert est.lo - half <= want <= est.hi + half
    # the engine's S0_per_step increments are the same process (beta -> -beta, sigma mapped)
    sigma = eta ** (1 - 1 / alpha) * s
    step_mean = increment_affine(alpha, -beta, sigma, eta, "S0_per_step")[1]
    law = euler_ou_law(alpha, -beta, sigma, theta, eta, center=center, step_mean=step_mean)
    assert law.mean == pytest.approx(want)
    assert lo < hi


def test_estimator_intervals_cover_a_known_stable_law():
    """95% intervals on 20 seeded samples: >= 16 cover (P(<= 15 | 95%) = 0.3%), not one seed."""
    med = 1.0 + 2.0 * (0.5 * math.tan(0.75 * math.pi) + standard_s0_median(1.5, 0.5))
    cover_mean = cover_median = 0
    for seed in range(20):
        x = sample(1.5, 0.5, 2.0, 1.0, 50000, seed=seed)
        m, d = mean_ci(x, tail_alpha=1.5, tail_beta=0.5), median_ci(x)
        cover_mean += m.lo < 1.0 < m.hi
        cover_median += d.lo < med < d.hi
    assert cover_mean >= 16 and cover_median >= 16, (cover_mean, cover_median)

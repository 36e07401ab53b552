"""Estimators: recovery of known parameters, invariants, bad inputs."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.stats import levy_stable

from gnitails.stable import FitResult, crb_sd, describe, fit, mohammadi, sample, to_s0
from gnitails.stable.ecf import DirectEcf, start_values, summarize
from gnitails.stable.mohammadi import largest_divisor_below_sqrt
from gnitails.stable.quantile import standard_quantile_stats

N = 100_000
TRUE = [(1.5, 0.5, 2.0, 1.0), (1.2, -0.5, 1.0, -3.0), (1.8, 0.0, 0.5, 0.0), (0.9, 0.3, 1.0, 0.0)]


@pytest.fixture(scope="module", params=TRUE, ids=lambda p: f"a{p[0]}b{p[1]}")
def case(request):
    a, b, g, d = request.param
    return request.param, sample(a, b, g, d, N, seed=2024)


def _check_within(r: FitResult, truth, k: float, names=("alpha", "beta", "scale", "loc")):
    for name, true in zip(("alpha", "beta", "scale", "loc"), truth, strict=True):
        if name not in names:
            continue
        err = getattr(r, name) - true
        assert abs(err) < k * r.se[name], f"{r.method} {name}: error {err:.4g}, se {r.se[name]:.3g}"


def test_ecf_recovers_parameters(case):
    truth, x = case
    r = fit(x)  # defaults: ecf, S1, calibrated intervals (at every alpha)
    assert (r.method, r.parametrization, r.n, r.uncertainty) == ("ecf", "S1", N, "calibrated")
    assert r.converged
    _check_within(r, truth, 4.0)
    for name in ("alpha", "beta", "scale", "loc"):
        lo, hi = r.ci95[name]
        assert lo <= getattr(r, name) <= hi
        assert (hi - lo) < 8 * r.se[name]  # an interval, not the whole range, at n = 1e5
    assert r.gof < 6.0  # a correct model: sqrt(n) sup |ECF - phi| is O(1)


def test_quantile_recovers_parameters(case):
    truth, x = case
    r = fit(x, method="quantile")
    # McCulloch is ~1.7-1.9x less efficient than the CRB the se is based on.
    _check_within(r, truth, 4.0 * 2.0)


def test_parametrizations_agree(case):
    (a, b, g, d), x = case
    r1 = fit(x, uncertainty="crb", moments=False)
    r0 = fit(x, parametrization="S0", uncertainty="crb", moments=False)
    assert (r1.alpha, r1.beta, r1.scale) == (r0.alpha, r0.beta, r0.scale)
    assert r0.loc == pytest.approx(to_s0(r1.alpha, r1.beta, r1.scale, r1.loc), abs=1e-12)
    assert r1.to("S0").loc == pytest.approx(r0.loc, abs=1e-12)
    assert r0.to("S1").loc == pytest.approx(r1.loc, abs=1e-12)


def test_binned_ecf_equals_exact_ecf():
    """The one-pass summary must reproduce the exact ECF far below its 1/sqrt(n) noise."""
    x = sample(1.3, 0.7, 1.0, 0.0, 50_000, seed=9)
    c, s, q = start_values(x)
    summ, exact = summarize(x, c, s, q), DirectEcf(x)
    assert summ.outliers.size > 0  # the outlier path is exercised
    t = np.linspace(0.05, 4.0, 40) / s
    diff = np.abs(summ.ecf(t, c) - exact.ecf(t, c))
    assert diff.max() < 5e-3 / np.sqrt(x.size)  # < 0.5% of the sampling error
    # float32 input gives the same summary to float32 precision
    s32 = summarize(x.astype(np.float32), c, s, q)
    assert np.abs(s32.ecf(t, c) - exact.ecf(t, c)).max() < 5e-3 / np.sqrt(x.size)


def test_equivariance():
    """Affine maps of the data map the estimate exactly (S0 is location-scale)."""
    x = sample(1.6, 0.4, 1.0, 0.0, 30_000, seed=1)
    r = fit(x, parametrization="S0")
    r2 = fit(3.0 * x + 5.0, parametrization="S0")
    assert r2.alpha == pytest.approx(r.alpha, abs=1e-9)
    assert r2.beta == pytest.approx(r.beta, abs=1e-9)
    assert r2.scale == pytest.approx(3 * r.scale, rel=1e-9)
    assert r2.loc == pytest.approx(3 * r.loc + 5, rel=1e-9)
    rm = fit(-x, parametrization="S0")  # reflection flips beta and loc
    assert rm.beta == pytest.approx(-r.beta, abs=1e-9)
    assert rm.loc == pytest.approx(-r.loc, abs=1e-9)


def test_gaussian_and_gof_against_wrong_law():
    rng = np.random.default_rng(0)
    r = fit(rng.normal(1.0, 3.0, N))
    assert r.alpha > 1.97
    assert r.scale == pytest.approx(3.0 / np.sqrt(2), rel=0.02)  # N(d, 2 g^2)
    bad = fit(rng.uniform(size=N))  # not stable at all
    assert bad.gof > 20.0


def test_mohammadi_strictly_stable_and_gaussian():
    x = sample(1.5, 0.5, 1.0, 0.0, N, seed=3)  # S1 loc 0: strictly stable
    m = fit(x, method="mohammadi")
    assert math.isnan(m.beta) and m.uncertainty == "blocks"
    assert m.info["block"] == largest_divisor_below_sqrt(N) == 250
    assert abs(m.alpha - 1.5) < 4 * m.se["alpha"]
    m10 = mohammadi(x, block=10)
    assert abs(m10.alpha - 1.5) < 4 * m10.alpha_se and m10.alpha_se < m.se["alpha"]
    g = fit(np.random.default_rng(1).normal(size=N), method="mohammadi")
    assert abs(g.alpha - 2.0) < 0.05  # Gaussian: block sums scale like sqrt(m)
    assert abs(mohammadi(x, symmetrize=True, block=10).alpha - 1.5) < 0.05


def test_largest_divisor():
    assert largest_divisor_below_sqrt(10**6) == 1000
    assert largest_divisor_below_sqrt(12) == 3
    assert largest_divisor_below_sqrt(97) == 1
    with pytest.raises(ValueError, match="prime"):
        mohammadi(np.arange(1.0, 98.0))


def test_quantile_table_matches_scipy_off_grid():
    """The spline through our table reproduces scipy's quantiles between grid points."""
    a, b = 1.37, -0.33
    old = levy_stable.parameterization
    try:
        levy_stable.parameterization = "S0"
        q05, q25, q50, q75, q95 = levy_stable.ppf([0.05, 0.25, 0.5, 0.75, 0.95], a, b)
    finally:
        levy_stable.parameterization = old
    st = standard_quantile_stats(a, b)
    assert st["nu_alpha"] == pytest.approx((q95 - q05) / (q75 - q25), abs=2e-4)
    assert st["nu_beta"] == pytest.approx((q95 + q05 - 2 * q50) / (q95 - q05), abs=2e-4)
    assert st["median"] == pytest.approx(q50, abs=2e-4)


def test_crb_table_anchors():
    """Independent anchors (stable-laws.md section 3) and the 1/sqrt(n) scaling."""
    sd = crb_sd(1.5, 0.5)
    assert sd["alpha"] == pytest.approx(1.503, rel=0.01)
    assert sd["beta"] == pytest.approx(2.695, rel=0.01)
    assert crb_sd(1.8, -0.5)["beta"] == pytest.approx(5.217, rel=0.02)
    assert crb_sd(1.5, 0.5, scale=2.0, n=100)["scale"] == pytest.approx(2 * sd["scale"] / 10)
    assert math.isnan(crb_sd(0.9, 0.0)["alpha"])  # not trusted there


def test_moments_match_scipy():
    x = np.random.default_rng(2).gamma(2.0, size=5000)
    sk, ku = describe(x)
    assert sk == pytest.approx(stats.skew(x, bias=True), rel=1e-10)
    assert ku == pytest.approx(stats.kurtosis(x, bias=True), rel=1e-10)
    r = fit(x.astype(np.float32))
    assert r.skewness == pytest.approx(stats.skew(x, bias=True), rel=1e-5)


def test_bootstrap_and_axis():
    x = sample(1.5, 0.0, 1.0, 0.0, 20_000, seed=6)
    r = fit(x, uncertainty="bootstrap", n_boot=30, n_blocks=20)
    crb = crb_sd(r.alpha, r.beta, r.scale, r.n)
    assert r.uncertainty == "bootstrap"
    assert 0.5 < r.se["alpha"] / crb["alpha"] < 3.0
    assert r.ci95["alpha"][0] < r.alpha < r.ci95["alpha"][1]
    res = fit(x.reshape(2, -1), axis=1, moments=False)
    assert res.shape == (2,) and all(isinstance(v, FitResult) for v in res)


def test_to_dict_is_json_ready():
    import json

    r = fit(sample(1.5, 0.0, size=1000, seed=0), method="mohammadi", block=10)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["beta"] is None and d["parametrization"] == "S1" and d["n"] == 1000


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (np.r_[np.ones(50), np.nan, np.arange(50.0)], {}, r"1 non-finite .* index 50"),
        (np.r_[np.arange(50.0), np.inf], {}, "non-finite"),
        (np.arange(5.0), {}, "too few points"),
        (np.full(100, 3.0), {}, "constant sample"),
        (np.zeros((10, 10)), {}, "axis="),
        (np.arange(100.0), {"method": "hill"}, "method must be one of"),
        (np.arange(100.0), {"parametrization": "S3"}, "parametrization"),
        (np.arange(100.0) + 0j, {}, "real numbers"),
        (3.0, {}, "scalar"),
    ],
)
def test_bad_inputs(x, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fit(x, **kwargs)


def test_nan_policy_omit():
    x = sample(1.5, 0.0, size=2000, seed=1)
    y = np.r_[x, np.nan]
    assert fit(y, nan_policy="omit").alpha == fit(x).alpha

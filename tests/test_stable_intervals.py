"""Intervals of the stable fit, and the batch fit."""

import numpy as np
import pytest

from gnitails.stable import crb_sd, fit, fit_batch, sample

KEYS = ("alpha", "beta", "scale", "loc")


@pytest.mark.parametrize(
    ("alpha", "beta", "n"),
    [(1.5, 0.3, 600), (1.98, 0.5, 600), (2.0, 0.0, 300), (1.2, 1.0, 2000), (1.7, -0.2, 30_000)],
)
def test_fit_batch_matches_fit_per_row(alpha, beta, n):
    """Same estimator as fit(): equal to float rounding wherever the iterations converge.

    The estimator is defined to its stopping tolerance (1e-5 in the Koutrouvelis iteration),
    so rounding-level differences may stop it one iteration apart: we allow 1e-5, far below
    any sampling error; a real slip (a frequency grid, a regression weight, a clip) moves alpha
    by > 1e-3. Rows agree to ~1e-9 in practice.
    beta is read off a phase of size ~beta (2 - alpha), so rounding in it is amplified by
    1 / (2 - alpha) near alpha = 2 (where beta's own sampling sd is ~1). The 30 000-point case
    goes through the binned summary.
    """
    X = np.stack([sample(alpha, beta, 2.0, 1.0, n, seed=(7, i)) for i in range(6)])
    got = fit_batch(X)
    for i, row in enumerate(X):
        r = fit(row, uncertainty="none", moments=False)
        assert r.converged
        tol = {"alpha": 1e-5, "beta": 1e-5 * max(1.0, 0.01 / (2.0 - r.alpha + 1e-12))}
        tol["scale"] = tol["loc"] = 1e-5 * r.scale
        for k in KEYS:
            assert got[k][i] == pytest.approx(getattr(r, k), abs=tol[k]), k


def test_fit_batch_other_methods_and_bad_rows():
    X = np.stack([sample(1.5, 0.0, size=400, seed=i) for i in range(3)])
    X[1] = 3.0  # a constant row: NaN, the others are fitted
    got = fit_batch(X)
    assert np.isnan(got["alpha"][1]) and np.isfinite(got["alpha"][[0, 2]]).all()
    q = fit_batch(X[[0, 2]], method="quantile")
    assert q["alpha"][0] == fit(X[0], "quantile", uncertainty="none").alpha


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.arange(100.0), "2-D"),
        (np.ones((3, 10)), "too few"),
        (np.r_[np.arange(50.0), np.nan].reshape(1, -1), "row 0"),
        (np.ones((2, 50)) + 0j, "real"),
    ],
)
def test_fit_batch_bad_input(X, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fit_batch(X)
    with pytest.raises(ValueError, match="method"):
        fit_batch(np.ones((2, 50)), method="hill")


# ------------------------------------------------------------------ default intervals
N_COVER, REPS, MIN_HITS = 1_000, 60, 51
# MIN_HITS: P(Binomial(60, 0.95) < 51) = 0.0007, so a correct 95% interval passes each check
# with probability > 0.999; the Cramer-Rao intervals (the old default) fail at alpha = 2.
BETA0 = (-1.0, 0.0, 1.0)  # at alpha = 2 every beta is true: an interval must hold them all


def _coverage(alpha, beta, seed):
    """Hits of the default intervals and of CRB intervals at the same estimates (n = 1e3)."""
    hits = {"alpha": 0, "beta": 0, "crb_alpha": 0, "crb_beta": 0}
    for r in range(REPS):
        x = sample(alpha, beta, 1.0, 0.0, N_COVER, seed=(seed, r))
        f = fit(x, moments=False)
        crb = crb_sd(f.alpha, f.beta, f.scale, N_COVER)
        betas = BETA0 if alpha == 2.0 else (beta,)
        crb_ci = {k: (getattr(f, k) - 1.96 * crb[k], getattr(f, k) + 1.96 * crb[k]) for k in crb}
        for pre, ci in (("", f.ci95), ("crb_", crb_ci)):
            hits[pre + "alpha"] += ci["alpha"][0] <= alpha <= ci["alpha"][1]
            hits[pre + "beta"] += all(ci["beta"][0] <= b <= ci["beta"][1] for b in betas)
    return hits


@pytest.mark.parametrize(("alpha", "beta"), [(1.5, 0.0), (1.5, 0.5), (2.0, 0.0), (2.0, 0.5)])
def test_default_intervals_cover(alpha, beta):
    hits = _coverage(alpha, beta, seed=int(alpha * 10 + beta * 100))
    assert hits["alpha"] >= MIN_HITS and hits["beta"] >= MIN_HITS, hits
    if alpha == 2.0:  # the check has power: the old default fails it
        assert hits["crb_beta"] < MIN_HITS, hits


def test_default_intervals_cover_below_alpha_1_1():
    """Below alpha 1.1 (no trusted CRB) the default is the same cheap inversion, and covers."""
    hits = _coverage(0.9, 0.5, seed=9)
    assert hits["alpha"] >= MIN_HITS and hits["beta"] >= MIN_HITS, hits
    assert fit(sample(0.9, 0.5, size=500, seed=1)).uncertainty == "calibrated"


def test_intervals_stay_in_range_and_beta_is_open_where_alpha_2_is():
    """Gaussian data: intervals inside the parameter space, clipping recorded, and the beta
    interval is [-1, 1] exactly when the alpha interval reaches 2."""
    seen_two = seen_below = 0
    for seed in range(12):
        r = fit(np.random.default_rng(seed).normal(3.0, 2.0, 400))
        (a_lo, a_hi), (b_lo, b_hi) = r.ci95["alpha"], r.ci95["beta"]
        assert 0 < a_lo <= r.alpha <= a_hi <= 2.0 and -1.0 <= b_lo <= b_hi <= 1.0
        assert r.ci95["scale"][0] > 0
        if a_hi == 2.0:
            seen_two += 1
            assert (b_lo, b_hi) == (-1.0, 1.0)
            assert {"alpha", "beta"} <= set(r.info["clipped"])
        else:
            seen_below += 1
    assert seen_two >= 9  # alpha = 2 is the truth: rarely excluded
    heavy = fit(sample(1.5, 0.5, size=20_000, seed=3))
    assert heavy.info["clipped"] == [] and heavy.ci95["alpha"][1] < 1.6
    assert heavy.ci95["beta"][1] - heavy.ci95["beta"][0] < 0.3  # beta is identified here


def test_crb_option_is_clipped_and_recorded():
    r = fit(np.random.default_rng(0).normal(size=2000), uncertainty="crb")
    assert r.uncertainty == "crb"
    assert r.ci95["alpha"][1] <= 2.0 and -1.0 <= r.ci95["beta"][0] <= r.ci95["beta"][1] <= 1.0
    assert "alpha" in r.info["clipped"]


def test_location_interval_in_both_parametrizations():
    x = sample(1.3, 0.6, 2.0, 1.0, 5000, seed=4)
    r1, r0 = fit(x), fit(x, parametrization="S0")
    assert r1.ci95["alpha"] == r0.ci95["alpha"] and r1.ci95["beta"] == r0.ci95["beta"]
    # S1 carries the beta/alpha uncertainty of the shift beta scale tan(pi alpha / 2)
    assert r1.se["loc"] > r0.se["loc"]
    assert r1.to("S0").ci95["loc"] == pytest.approx(r0.ci95["loc"], rel=1e-9)
    assert r0.to("S1").ci95["loc"] == pytest.approx(r1.ci95["loc"], rel=1e-9)

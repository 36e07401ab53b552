"""Intervals of the stable fit, and the batch fit."""

import numpy as np
import pytest

from gnitails.stable import fit, fit_batch, sample

KEYS = ("alpha", "beta", "scale", "loc")


@pytest.mark.parametrize(
    ("alpha", "beta", "n"),
    [(1.5, 0.3, 600), (1.98, 0.5, 600), (2.0, 0.0, 300), (1.2, 1.0, 2000), (1.7, -0.2, 30_000)],
)
def test_fit_batch_matches_fit_per_row(alpha, beta, n):
    """Same estimator as fit(): equal to float rounding wherever the iterations converge.

    1e-6 is ten times below the Koutrouvelis stopping tolerance and far below any sampling
    error; a real slip (a frequency grid, a regression weight, a clip) moves alpha by > 1e-3.
    beta is read off a phase of size ~beta (2 - alpha), so rounding in it is amplified by
    1 / (2 - alpha) near alpha = 2 (where beta's own sampling sd is ~1). The 30 000-point case
    goes through the binned summary.
    """
    X = np.stack([sample(alpha, beta, 2.0, 1.0, n, seed=(7, i)) for i in range(6)])
    got = fit_batch(X)
    for i, row in enumerate(X):
        r = fit(row, uncertainty="none", moments=False)
        assert r.converged
        tol = {"alpha": 1e-6, "beta": 1e-6 * max(1.0, 0.01 / (2.0 - r.alpha + 1e-12))}
        tol["scale"] = tol["loc"] = 1e-6 * r.scale
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

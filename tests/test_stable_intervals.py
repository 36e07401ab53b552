"""Intervals of the stable fit, and the batch fit."""

import numpy as np
import pytest

from gnitails.stable import fit, fit_batch, sample


def test_fit_batch_matches_fit_per_row():
    X = np.stack([sample(1.5, 0.3, 2.0, 1.0, 500, seed=i) for i in range(4)])
    got = fit_batch(X)
    for i, row in enumerate(X):
        r = fit(row, uncertainty="none", moments=False)
        for k in ("alpha", "beta", "scale", "loc"):
            assert got[k][i] == pytest.approx(getattr(r, k), abs=1e-6)


def test_fit_batch_rejects_1d():
    with pytest.raises(ValueError, match="2-D"):
        fit_batch(np.arange(100.0))

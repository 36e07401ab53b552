"""``fit_batch``: the ECF point estimate of many equal-length samples at once."""

from __future__ import annotations

import numpy as np

from .fit import fit

KEYS = ("alpha", "beta", "scale", "loc")


def fit_batch(X, method: str = "ecf") -> dict[str, np.ndarray]:
    """Point estimates (S1 location) for every row of the 2-D float array ``X``.

    Same estimator as ``fit(row, method, uncertainty="none")``; returns arrays keyed
    "alpha", "beta", "scale", "loc", one entry per row.
    """
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D array (one sample per row), got shape {arr.shape}")
    out = {k: np.empty(arr.shape[0]) for k in KEYS}
    for i, row in enumerate(arr):
        r = fit(row, method, uncertainty="none", moments=False)
        for k in KEYS:
            out[k][i] = getattr(r, k)
    return out

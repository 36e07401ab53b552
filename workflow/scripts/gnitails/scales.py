"""Robust per-entry scales of a noise matrix (numpy only).

The entries of a layer's gradient noise differ in scale by orders of magnitude: Z_ij is
roughly a backpropagated error of unit i times activation j. Pooled, they form a scale mixture
whose fitted stable law says more about the mixture than about the noise. Dividing by a rank-1
scale r_i c_j (robust row scales, then robust column scales of the rescaled rows) leaves one
standardised sample; the replacement arms and the ``standardized`` fits use it.
"""

from __future__ import annotations

import warnings

import numpy as np

MAD_TO_SD = 1.4826  # MAD of a standard normal is 1 / 1.4826


def _mad(a: np.ndarray, axis: int) -> np.ndarray:
    """Robust scale along `axis` (exact zeros, i.e. dead entries, left out; 0 if all dead)."""
    masked = np.where(a == 0, np.nan, a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows or columns
        med = np.nanmedian(masked, axis=axis, keepdims=True)
        mad = MAD_TO_SD * np.nanmedian(np.abs(masked - med), axis=axis, keepdims=True)
    return np.nan_to_num(mad, nan=0.0)


def rank1_scales(z: np.ndarray) -> np.ndarray:
    """Scales r_i c_j of a matrix's entries: row MADs, then column MADs of the rescaled rows.

    Entries of a row or column with zero scale (no noise reaches them) get scale 0. A stack
    of matrices (..., rows, columns) gets each matrix's scales.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's inf entries
        rows = _mad(z, axis=-1)
        scaled = np.where(rows > 0, z / np.where(rows > 0, rows, 1.0), 0.0)
        return rows * _mad(scaled, axis=-2)


def standardize(z: np.ndarray) -> np.ndarray | None:
    """The live entries of matrix ``z`` divided by their rank-1 scales (None: not a matrix
    with at least two rows and two columns)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or min(z.shape) < 2:
        return None
    s = rank1_scales(z)
    live = s > 0
    return z[live] / s[live]

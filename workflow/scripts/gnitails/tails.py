"""Tail and skew verdicts of a noise sample against a matched Gaussian null (numpy only).

An ECF fit of a *standardised* sample gives alpha-hat < 2 for Gaussian data too: dividing by
estimated scales turns the estimation error of the scales into a mild scale mixture, and the
Cramer-Rao interval ignores it. So a verdict compares the fit with the fits of ``n_null``
Gaussian samples sent through the same standardisation and the same estimator (a parametric
bootstrap of the null "Gaussian noise with the data's scale structure").

Two views of one layer's noise array (K draws, then the parameter's shape):

- ``pooled`` (the fits' ``standardized`` sample): the first draw's live entries divided by
  their rank-1 scales r_i c_j (:func:`gnitails.scales.standardize`). Null: Gaussian matrices
  with the fitted scales r_i c_j and the data's exact zeros (dead entries), standardised alike.
- ``per_coordinate``: every coordinate across the K draws, minus its median and divided by
  its robust scale (1.4826 MAD over the draws), pooled over coordinates; coordinates with zero
  robust scale (constant, or mostly one value) are left out. Null: K Gaussian draws per kept
  coordinate with those centres and scales, standardised alike.

The per-coordinate view is invariant to each coordinate's shift and scale, so its null law
does not depend on them: that test is exact up to Monte-Carlo error. The pooled view is
invariant to row scales but not to column scales (a row's MAD mixes its columns' scales), so
its null uses the fitted r_i c_j: a parametric bootstrap. tests/test_tails.py measures both
false-positive rates at every dumped shape.

Verdicts, from Monte-Carlo p-values (exact levels whatever ``n_null``; with fewer than 39
replicates no verdict can be reached): "heavy" when p_alpha = (1 + #{null alpha-hat <=
alpha-hat}) / (1 + n_null) <= 2.5%, i.e. alpha-hat below the null's 2.5% quantile; "skewed"
when the two-sided p_beta <= 5%, i.e. beta-hat outside the null's 2.5-97.5% range.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from gnitails.scales import MAD_TO_SD, rank1_scales, standardize
from gnitails.stable import fit_batch

VIEWS = ("pooled", "per_coordinate")
SAMPLE_OF_VIEW = {"pooled": "standardized", "per_coordinate": "per_coordinate"}
LEVEL = 0.05  # heavy: one-sided p_alpha <= LEVEL / 2; skewed: two-sided p_beta <= LEVEL
MIN_NULL = 39  # the fewest replicates with which p_alpha can reach 2.5%
MIN_POINTS = 20  # the ECF fit's minimum sample size
CHUNK_VALUES = 1 << 22  # null values generated and fitted at once (32 MiB of float64)
COLUMNS = (
    "n_null",
    "null_alpha_med",
    "null_alpha_lo",
    "null_alpha_hi",
    "null_beta_med",
    "null_beta_lo",
    "null_beta_hi",
    "p_alpha",
    "p_beta",
    "heavy",
    "skewed",
)


@dataclass(frozen=True)
class TailTest:
    """An observed ECF fit (alpha, beta) and the fits of its null replicates."""

    view: str
    alpha: float
    beta: float
    null_alpha: np.ndarray
    null_beta: np.ndarray

    def _quantiles(self, values: np.ndarray) -> tuple[float, float, float]:
        lo, med, hi = np.nanquantile(values, [LEVEL / 2, 0.5, 1 - LEVEL / 2])
        return float(med), float(lo), float(hi)

    @property
    def p_alpha(self) -> float:
        """One-sided Monte-Carlo p-value P(null alpha-hat <= alpha-hat), (1 + hits)/(1 + B)."""
        a = self.null_alpha[np.isfinite(self.null_alpha)]
        return (1 + int((a <= self.alpha).sum())) / (1 + a.size)

    @property
    def p_beta(self) -> float:
        """Two-sided Monte-Carlo p-value of beta-hat: twice the smaller tail, at most 1."""
        b = self.null_beta[np.isfinite(self.null_beta)]
        tail = min(int((b <= self.beta).sum()), int((b >= self.beta).sum()))
        return min(1.0, 2 * (1 + tail) / (1 + b.size))

    @property
    def heavy(self) -> bool:
        """p_alpha <= 2.5%: an exact level-2.5% test for any n_null (never below 39)."""
        return bool(self.p_alpha <= LEVEL / 2 + 1e-12)  # (1 + k) / (1 + B): float-exact

    @property
    def skewed(self) -> bool:
        """p_beta <= 5%: an exact level-5% test for any n_null (never below 39)."""
        return bool(self.p_beta <= LEVEL + 1e-12)

    def columns(self) -> dict:
        """The fits table's null columns (see docs/noise.md)."""
        a_med, a_lo, a_hi = self._quantiles(self.null_alpha)
        b_med, b_lo, b_hi = self._quantiles(self.null_beta)
        return {
            "n_null": int(np.isfinite(self.null_alpha).sum()),
            "null_alpha_med": a_med,
            "null_alpha_lo": a_lo,
            "null_alpha_hi": a_hi,
            "null_beta_med": b_med,
            "null_beta_lo": b_lo,
            "null_beta_hi": b_hi,
            "p_alpha": self.p_alpha,
            "p_beta": self.p_beta,
            "heavy": self.heavy,
            "skewed": self.skewed,
        }


def null_rng(*ids) -> np.random.Generator:
    """A generator seeded from the ids (e.g. experiment, run, seed, step, array key, view):
    the same ids give the same null on every machine and run."""
    digest = hashlib.sha256("/".join(map(str, ids)).encode()).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint32))


# --------------------------------------------------------------------------- the two views


def _first_matrix(arr: np.ndarray) -> np.ndarray | None:
    """Draw 0 as a (rows, everything else) float64 matrix; None for a vector."""
    first = np.asarray(arr[0], dtype=np.float64)
    return first.reshape(first.shape[0], -1) if first.ndim >= 2 else None


def pooled_sample(arr: np.ndarray) -> np.ndarray | None:
    """The pooled view of a (K, *shape) array: draw 0's live entries over their rank-1 scales
    (None when draw 0 is not a matrix with at least two rows and two columns)."""
    matrix = _first_matrix(arr)
    return None if matrix is None else standardize(matrix)


def _pooled_null(arr: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` null samples of the pooled view: Gaussian entries with the fitted scales
    r_i c_j, zero where draw 0 is exactly zero, standardised alike (``standardize`` on a stack:
    the same scales, then the live entries). A replicate whose live entries are not the data's
    count (an edge case of rows or columns with two nonzero entries) is NaN."""
    matrix = _first_matrix(arr)
    g = (rank1_scales(matrix) * (matrix != 0)) * rng.standard_normal((size, *matrix.shape))
    s = rank1_scales(g)
    live = s > 0
    out = np.full((size, n), np.nan)
    for b in np.flatnonzero(live.sum(axis=(1, 2)) == n):
        out[b] = g[b][live[b]] / s[b][live[b]]
    return out


def _median(a: np.ndarray) -> np.ndarray:
    """np.median over the last axis (keepdims), via a sort: ~10x faster for short rows."""
    s = np.sort(a, axis=-1)
    k = s.shape[-1] // 2
    mid = s[..., k : k + 1] if s.shape[-1] % 2 else (s[..., k - 1 : k] + s[..., k : k + 1]) / 2
    return mid


def coordinate_standardize(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(..., p, K)``: p coordinates by K draws -> each coordinate minus its median over the
    draws, divided by 1.4826 x its MAD; and the mask of coordinates with a positive scale."""
    dev = draws - _median(draws)
    scale = MAD_TO_SD * _median(np.abs(dev))
    keep = scale > 0
    return dev / np.where(keep, scale, 1.0), keep[..., 0]


def _coordinates(arr: np.ndarray) -> np.ndarray:
    """A (K, *shape) array as (coordinates, draws) in float32 (the dumps' precision; this view
    holds K x the points of the pooled one, and its null as many again x ``n_null``)."""
    return np.asarray(arr, dtype=np.float32).reshape(arr.shape[0], -1).T


def per_coordinate_sample(arr: np.ndarray) -> np.ndarray | None:
    """The per-coordinate view of a (K, *shape) array: every coordinate with a positive
    robust scale across the K draws, standardised by its own median and scale, pooled."""
    if arr.shape[0] < 2:
        return None
    std, keep = coordinate_standardize(_coordinates(arr))
    return std[keep].ravel()


def coordinate_kurtosis(arr: np.ndarray) -> tuple[float, float]:
    """Median and 90% quantile over the per-coordinate view's coordinates of each one's excess
    kurtosis across its K draws (moment estimator, scipy's bias=True): whether the typical
    coordinate or a minority departs from Gaussian (0). NaN when the view is empty."""
    if arr.shape[0] < 2:
        return math.nan, math.nan
    coords = _coordinates(arr).astype(np.float64)
    _, keep = coordinate_standardize(coords.astype(np.float32))
    dev = coords[keep] - coords[keep].mean(axis=1, keepdims=True)
    m2, m4 = (dev**2).mean(axis=1), (dev**4).mean(axis=1)
    k = m4 / m2**2 - 3
    if k.size == 0:
        return math.nan, math.nan
    return float(np.median(k)), float(np.quantile(k, 0.9))


def _per_coordinate_null(
    arr: np.ndarray, n: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` null samples of the per-coordinate view: K Gaussian draws per kept coordinate
    with its median and robust scale, standardised alike."""
    coords = _coordinates(arr)
    _, keep = coordinate_standardize(coords)
    centre = _median(coords[keep])
    scale = MAD_TO_SD * _median(np.abs(coords[keep] - centre))
    g = centre + scale * rng.standard_normal((size, *coords[keep].shape), dtype=np.float32)
    return coordinate_standardize(g)[0].reshape(size, n)


VIEW_FUNCTIONS = {
    "pooled": (pooled_sample, _pooled_null),
    "per_coordinate": (per_coordinate_sample, _per_coordinate_null),
}


def view_sample(arr: np.ndarray, view: str) -> np.ndarray | None:
    """The observed sample of one view of a (K, *shape) noise array (None: view undefined)."""
    if view not in VIEW_FUNCTIONS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return VIEW_FUNCTIONS[view][0](np.asarray(arr))


# --------------------------------------------------------------------------- the test


def _fit_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = fit_batch(x, method="ecf")
    return np.asarray(r["alpha"], float), np.asarray(r["beta"], float)


def tail_test(arr: np.ndarray, view: str, n_null: int, rng: np.random.Generator) -> TailTest | str:
    """The test of one view of a (K, *shape) noise array against ``n_null`` null replicates;
    a string saying why when there is none (view undefined, too few points, non-finite)."""
    if n_null < MIN_NULL:
        raise ValueError(
            f"n_null must be at least {MIN_NULL} (fewer cannot reach a 2.5% p-value), got "
            f"{n_null!r}"
        )
    arr = np.asarray(arr)
    x = view_sample(arr, view)
    if x is None:
        return f"no {view} view for shape {tuple(arr.shape[1:])}"
    if x.size < MIN_POINTS:
        return f"too few points for the {view} null: n = {x.size} < {MIN_POINTS}"
    if not np.isfinite(x).all():
        return f"non-finite values in the {view} sample"
    if x.min() == x.max():
        return f"constant {view} sample"
    alpha, beta = _fit_rows(x[None, :])
    make_null = VIEW_FUNCTIONS[view][1]
    chunk = max(1, CHUNK_VALUES // x.size)
    null_a, null_b = [], []
    for start in range(0, n_null, chunk):
        null = make_null(arr, x.size, min(chunk, n_null - start), rng)
        ok = np.isfinite(null).all(axis=1)
        a, b = np.full(len(null), np.nan), np.full(len(null), np.nan)
        if ok.any():
            a[ok], b[ok] = _fit_rows(null[ok])
        null_a.append(a)
        null_b.append(b)
    return TailTest(view, float(alpha[0]), float(beta[0]), np.concatenate(null_a),
                    np.concatenate(null_b))  # fmt: skip


def tail_tests(arr: np.ndarray, n_null: int, *ids) -> dict[str, TailTest | str]:
    """Both views' tests of one (K, *shape) noise array, each seeded by ``ids`` + the view
    (e.g. experiment, run, seed, step and the array's key: reruns are identical)."""
    return {view: tail_test(arr, view, n_null, null_rng(*ids, view)) for view in VIEWS}


def empty_columns() -> dict:
    """The null columns of a row without a null."""
    return {c: (math.nan if c != "n_null" else 0) for c in COLUMNS}

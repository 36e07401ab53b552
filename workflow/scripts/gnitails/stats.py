"""Rank-based paired comparisons over seeds and binomial rates (numpy and scipy only).

Training runs that diverge are outcomes, not missing data: a seed whose run diverged ranks worst
(its loss is +inf), so a comparison keeps every seed. The paired differences d_i = a_i - b_i then
hold +inf where only the first run diverged, -inf where only the second did and 0 where both did.
Rank statistics need no more than the order of the d_i, so they stay defined, and they move only
when a seed changes rank, not with float-level noise in the losses.

- :func:`signed_rank_ci`: Hodges-Lehmann estimate (median of the Walsh averages) with the exact
  Wilcoxon signed-rank confidence interval (order statistics of the Walsh averages) and the exact
  two-sided p-value of the signed-rank test (Hollander & Wolfe, *Nonparametric Statistical
  Methods*, section 3.2-3.3).
- :func:`binomial_ci`: Clopper-Pearson interval of a rate such as the divergence rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedEffect:
    """Hodges-Lehmann estimate of the median paired difference, its interval and the test."""

    estimate: float
    low: float
    high: float
    n: int  # pairs used (both runs present for the seed)
    p_value: float  # exact two-sided signed-rank test of "no shift"
    coverage: float  # the interval's exact coverage (discrete: >= the asked confidence or NaN)


def paired_differences(a, b) -> np.ndarray:
    """a - b per pair, with a non-finite value meaning that run diverged (ranks worst)."""
    a = np.where(np.isfinite(a), a, np.inf).astype(np.float64)
    b = np.where(np.isfinite(b), b, np.inf).astype(np.float64)
    with np.errstate(invalid="ignore"):
        d = a - b
    return np.where(np.isinf(a) & np.isinf(b), 0.0, d)


@cache
def _signed_rank_counts(n: int) -> np.ndarray:
    """counts[w] = number of sign patterns of ranks 1..n whose positive ranks sum to w."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return counts


def _lower_cdf(n: int) -> np.ndarray:
    """P(W+ <= w) under the null, w = 0..n(n+1)/2."""
    counts = _signed_rank_counts(n)
    return np.cumsum(counts) / counts.sum()


def walsh_averages(d: np.ndarray) -> np.ndarray:
    """(d_i + d_j) / 2 for i <= j, sorted (inf + -inf counts as a tie, 0)."""
    i, j = np.triu_indices(d.size)
    with np.errstate(invalid="ignore"):
        w = (d[i] + d[j]) / 2
    return np.sort(np.where(np.isnan(w), 0.0, w))


def signed_rank_ci(a, b, confidence: float = CONFIDENCE) -> PairedEffect:
    """Median shift of a over b, paired by position; pairs with a NaN in both are left out.

    The interval is [W_(c), W_(M+1-c)] of the M = n(n+1)/2 sorted Walsh averages, with c the
    largest integer such that P(W+ <= c - 1) <= (1 - confidence) / 2. Below n = 6 no such c
    exists at 95%: the interval is then (-inf, inf), i.e. too few seeds to say anything.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = ~(np.isnan(a) & np.isnan(b))
    d = paired_differences(a[keep], b[keep])
    n = d.size
    if n == 0:
        return PairedEffect(np.nan, np.nan, np.nan, 0, np.nan, np.nan)
    w = walsh_averages(d)
    with np.errstate(invalid="ignore"):
        estimate = float(np.nan_to_num(np.median(w), nan=0.0, posinf=np.inf, neginf=-np.inf))
    cdf = _lower_cdf(n)
    tail = (1 - confidence) / 2
    c = int(np.searchsorted(cdf, tail, side="right"))  # P(W+ <= c - 1) <= tail < P(W+ <= c)
    if c == 0:
        low, high, coverage = -np.inf, np.inf, np.nan
    else:
        low, high = float(w[c - 1]), float(w[w.size - c])
        coverage = float(1 - 2 * cdf[c - 1])
    return PairedEffect(estimate, low, high, n, _signed_rank_p(d), coverage)


def _signed_rank_p(d: np.ndarray) -> float:
    """Exact two-sided p-value of the signed-rank test (zeros dropped, ties mid-ranked)."""
    d = d[d != 0]
    n = d.size
    if n == 0:
        return 1.0
    ranks = stats.rankdata(np.abs(d))  # +-inf rank largest
    w_plus = ranks[d > 0].sum()
    cdf = _lower_cdf(n)
    total = n * (n + 1) / 2
    low = min(w_plus, total - w_plus)
    return float(min(1.0, 2 * cdf[int(np.floor(low + 1e-9))]))


def binomial_ci(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Clopper-Pearson interval of a rate k / n ((nan, nan) when n = 0)."""
    if n == 0:
        return np.nan, np.nan
    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    return low, high

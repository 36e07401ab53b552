"""Summaries over seeds: mean and a Student-t confidence interval (deterministic, no bootstrap)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def mean_ci(values, confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """Mean, lower and upper bound of the t-interval, and the count (NaN bounds when n < 2)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = x.mean()
    if n < 2:
        return mean, np.nan, np.nan, n
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half, n


def summarise(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """One row per group of `by`: mean, ci_low, ci_high and n of `value` over the rows."""
    rows = []
    for key, group in df.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high, n = mean_ci(group[value])
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "n": n,
            }
        )
    return pd.DataFrame(rows)

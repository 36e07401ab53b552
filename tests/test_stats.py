"""Rank-based paired comparisons: exact coverage, the signed-rank test, divergence as +inf."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gnitails.stats import binomial_ci, paired_differences, signed_rank_ci


def test_interval_covers_the_median_shift_at_its_stated_rate():
    # Heavy-tailed, shifted differences: the exact interval is distribution-free.
    rng = np.random.default_rng(0)
    repeats, n, shift = 1000, 10, 0.3
    hits = 0
    for _ in range(repeats):
        d = rng.standard_t(2, size=n) + shift
        effect = signed_rank_ci(d, np.zeros(n))
        hits += effect.low <= shift <= effect.high
    stated = effect.coverage
    assert 0.95 <= stated < 0.96
    # Binomial sd at 1000 repeats is 0.0068: 4 sd either side.
    assert abs(hits / repeats - stated) < 0.028


def test_p_value_is_scipys_exact_signed_rank_test():
    rng = np.random.default_rng(1)
    for n in (6, 9, 14):
        d = rng.normal(0.4, 1.0, n)
        ours = signed_rank_ci(d, np.zeros(n)).p_value
        assert ours == pytest.approx(stats.wilcoxon(d, method="exact").pvalue, rel=1e-12)


def test_hodges_lehmann_estimate_is_the_median_of_walsh_averages():
    d = np.array([1.0, 2.0, 4.0])
    # Walsh averages: 1, 1.5, 2.5, 2, 3, 4 -> median 2.25
    assert signed_rank_ci(d, np.zeros(3)).estimate == pytest.approx(2.25)


def test_a_diverged_run_ranks_worst_and_is_not_dropped():
    a = np.array([1.0, 2.0, np.nan, np.inf, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    b = np.zeros(10)
    effect = signed_rank_ci(a, b)
    assert effect.n == 10 and effect.high == np.inf and effect.low > 0
    assert paired_differences(np.array([np.nan]), np.array([np.inf])).item() == 0.0
    assert paired_differences(np.array([1.0]), np.array([np.nan])).item() == -np.inf


def test_too_few_pairs_give_an_unbounded_interval():
    effect = signed_rank_ci(np.ones(5), np.zeros(5))
    assert effect.low == -np.inf and effect.high == np.inf
    assert effect.p_value == pytest.approx(1 / 16)


def test_binomial_interval_is_clopper_pearson():
    low, high = binomial_ci(3, 10)
    assert stats.binom.sf(2, 10, low) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(3, 10, high) == pytest.approx(0.025, rel=1e-6)
    assert binomial_ci(0, 10)[0] == 0.0 and binomial_ci(10, 10)[1] == 1.0

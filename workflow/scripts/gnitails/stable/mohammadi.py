"""Block-sum tail-index estimator of Mohammadi, Mohammadpour & Ombao (2015, Cor. 2.4).

As used for SGD gradient noise by Simsekli, Sagun & Gurbuzbalaban (ICML 2019,
``umutsimsekli/sgd_tail_index``): with N scalars X_j split into K = N/m consecutive blocks of
size m and block sums Y_i,

    1/alpha = ( mean_i log|Y_i| - mean_j log|X_j| ) / log m,

because a sum of m i.i.d. *strictly* stable variables is m^(1/alpha) X in law (alpha != 1, S1
location 0: centre the data first). The published code takes m as the largest divisor of N
that is <= sqrt(N); that choice converges only like N^(-1/4)/log N. A small fixed m (~10)
restores the N^(-1/2) rate, and pairwise differences x_2i - x_2i+1 remove location and skew.
Estimates alpha only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = float(np.spacing(1))  # added inside the logs, as in the published code


def largest_divisor_below_sqrt(n: int) -> int:
    """Largest divisor of n that is <= sqrt(n) (1 when n is prime)."""
    for m in range(math.isqrt(n), 0, -1):
        if n % m == 0:
            return m
    return 1


@dataclass(frozen=True)
class MohammadiFit:
    alpha: float
    alpha_se: float  # from the spread of the per-block terms (blocks are independent)
    block: int
    n_blocks: int
    n_used: int


def mohammadi(x: np.ndarray, block: int | str = "sqrt", symmetrize: bool = False) -> MohammadiFit:
    """Estimate alpha by block sums.

    block: "sqrt" (largest divisor of N <= sqrt(N), as Simsekli et al. 2019) or an int m >= 2
        (the sample is truncated to a multiple of m).
    symmetrize: use x[0::2] - x[1::2] (symmetric, centred, same alpha) instead of x.
    """
    x = np.asarray(x, dtype=np.float64)
    if symmetrize:
        k = x.size // 2
        x = x[: 2 * k : 2] - x[1 : 2 * k : 2]
    n = x.size
    if block == "sqrt":
        m = largest_divisor_below_sqrt(n)
        if m < 2:
            raise ValueError(
                f"mohammadi: N = {n} has no divisor in [2, sqrt(N)] (prime?); pass an integer "
                "block size, e.g. block=10"
            )
    else:
        m = int(block)
        if m < 2 or m > n // 2:
            raise ValueError(f"mohammadi: block size must be in [2, N/2 = {n // 2}], got {block!r}")
    k = n // m
    xb = x[: k * m].reshape(k, m)
    logx = np.log(np.abs(xb) + EPS).mean(axis=1)
    logy = np.log(np.abs(xb.sum(axis=1)) + EPS)
    d = logy - logx  # one term per block; 1/alpha = mean(d) / log m
    inv = d.mean() / np.log(m)
    if not inv > 0:
        raise ValueError("mohammadi: block sums are not larger than the summands (alpha <= 0?)")
    alpha = 1.0 / inv
    se_inv = d.std(ddof=1) / np.sqrt(k) / np.log(m) if k > 1 else np.inf
    return MohammadiFit(float(alpha), float(alpha**2 * se_inv), m, k, k * m)

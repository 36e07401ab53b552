"""Generate ``gnitails/stable/interval_table.npz``, the table behind the default intervals.

    .venv/bin/python tools/make_interval_table.py            # ~1-2 min on 2 cores

Two parts (see ``gnitails.stable.intervals`` for how they are used):

* ``SD``, ``CORR``: sqrt(n) x the asymptotic sds and the correlations of (alpha, beta,
  scale/scale, loc0/scale) of the ECF fit's GMM step for the standard S0 law, on the grid
  ``ALPHAS`` x ``BETAS`` (beta >= 0; beta < 0 by reflection, which keeps the sds). Computed
  analytically by ``intervals.asymptotic_cov`` (the ECF covariance and the model Jacobian);
  no simulation, no pdf. beta's sd is infinite at alpha = 2.
* ``K_REG``: the factor on beta's sd where beta comes from the regression alone (the GMM
  step keeps it fixed for alpha >= 1.99), from simulation (``regression_factor``).
* ``C2_Q``: the second-order term at alpha = 2. For Gaussian data the fit returns alpha-hat = 2
  about half of the time and otherwise 2 - alpha-hat = O(1/n). ``C2_Q`` holds the simulated
  95% points of n (2 - alpha-hat) at n = ``C2_N``, from ``--reps`` Gaussian samples per n
  fitted by ``fit_batch`` (the same estimator as ``fit``); ``C2`` is their largest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from gnitails.stable import fit_batch, sample
from gnitails.stable._tables import save
from gnitails.stable.batch import _fit_ecf
from gnitails.stable.ecf import BETA_FIXED_FROM, BETA_ZERO_FROM
from gnitails.stable.intervals import Z95, asymptotic_cov, sd_corr, standard_sd

PKG = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "gnitails" / "stable"
ALPHAS = np.round(
    np.r_[
        np.arange(0.1, 1.9, 0.025),  # 0.1: the fit's floor for alpha
        np.arange(1.9, 1.99, 0.01),
        [1.99, 1.992, 1.994, 1.996, 1.998, 1.999, 1.9995, 1.9998, 1.9999, 2.0],
    ],
    10,
)
BETAS = np.array(
    [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1]
)
C2_N = np.array([1_000, 3_000, 10_000, 30_000, 100_000])
K_ALPHAS, K_BETAS, K_N = (1.991, 1.994, 1.997), (0.0, 0.5), (30_000, 100_000, 300_000)


def covariance_table() -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(ALPHAS, BETAS, indexing="ij")
    return sd_corr(asymptotic_cov(a, b))


def second_order(reps: int, seed: int) -> np.ndarray:
    """95% point of n (2 - alpha-hat) for Gaussian samples, per n in C2_N."""
    out = []
    for n in C2_N:
        rng = np.random.default_rng([seed, int(n)])
        a = np.concatenate(
            [fit_batch(rng.standard_normal((m, n)))["alpha"] for m in _chunks(reps, n)]
        )
        out.append(float(np.quantile(n * (2.0 - a), 0.95)))
        print(f"  n = {n}: 95% point of n (2 - alpha-hat) = {out[-1]:.2f}", flush=True)
    return np.array(out)


def regression_factor(reps: int, seed: int, tab: dict) -> float:
    """K_REG: how much wider than the GMM step's sd the regression's beta is.

    Where the regression's alpha is in [BETA_FIXED_FROM, BETA_ZERO_FROM) the fit keeps the
    regression's beta. For those samples (simulated on K_ALPHAS x K_BETAS x K_N), r = |beta-hat
    - beta| / (the sd the interval uses, at alpha-hat); K_REG = (95% point of r) / 1.96, so that
    the interval with sd x K_REG covers 95% of them.
    """
    ratios = []
    for a in K_ALPHAS:
        for b in K_BETAS:
            for n in K_N:
                key = (seed, int(a * 1e4), int(b * 10), n)
                x = np.stack([sample(a, b, 1.0, 0.0, n, seed=key + (r,)) for r in range(reps)])
                est, a0 = _fit_ecf(x)
                reg = (a0 >= BETA_FIXED_FROM) & (a0 < BETA_ZERO_FROM)
                ah, bh = est["alpha"][reg], est["beta"][reg]
                sd = np.maximum(standard_sd(ah, b, tab)[:, 1], standard_sd(ah, bh, tab)[:, 1])
                ratios.append(np.abs(bh - b) / (sd / np.sqrt(n)))
                print(f"  alpha {a} beta {b} n {n}: {reg.sum()} of {reps} from the regression")
    r = np.concatenate(ratios)
    print(f"  K_REG from {r.size} samples: {np.quantile(r, 0.95) / Z95:.3f}", flush=True)
    return float(np.quantile(r, 0.95) / Z95)


def _chunks(reps: int, n: int) -> list[int]:
    per = max(1, int(2e7 // n))  # rows per batch: bounded memory
    return [min(per, reps - i) for i in range(0, reps, per)]


def _as_printed(arr: np.ndarray) -> np.ndarray:
    """``arr`` rounded as numpy prints it with precision 7 (8 significant digits where it
    prints in scientific notation): the shipped table has these values (it began as a text
    table), and the intervals need no more, so a rerun with the same options reproduces it."""
    text = np.array2string(arr, precision=7, floatmode="maxprec", threshold=10**9)
    numbers = text.replace("[", " ").replace("]", " ").split()
    return np.array(numbers, dtype=arr.dtype).reshape(arr.shape)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000, help="Gaussian samples per n for C2")
    ap.add_argument("--k-reps", type=int, default=150, help="samples per cell for K_REG")
    ap.add_argument("--seed", type=int, default=2021)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    sd, corr = covariance_table()
    q = second_order(a.reps, a.seed)
    tab = {"alphas": ALPHAS, "betas": BETAS, "log_sd": np.log(sd), "corr": corr}
    k_reg = regression_factor(a.k_reps, a.seed, tab)
    arrays = {"ALPHAS": ALPHAS, "BETAS": BETAS, "SD": sd, "CORR": corr, "C2_N": C2_N, "C2_Q": q}
    save(
        PKG / "interval_table.npz",
        "sqrt(n) x asymptotic sd and correlations of the ECF fit (alpha, beta, scale, loc0) for\n"
        "the standard S0 law, and the second-order term C2 at alpha = 2; made by\n"
        f"tools/make_interval_table.py (--reps {a.reps} --k-reps {a.k_reps} --seed {a.seed}).",
        **{k: _as_printed(v) for k, v in arrays.items()},
        C2=float(np.round(q.max(), 2)),
        K_REG=float(np.round(k_reg, 3)),
    )
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Confidence intervals for the ECF fit that cover near the edges of the parameter space.

The default intervals (``fit(..., uncertainty="auto")`` for ``method="ecf"``, reported as
``uncertainty="calibrated"``) invert a model of the estimator's own sampling law rather than
quoting estimate +- 1.96 sd:

* **Asymptotic part.** The ECF fit is an optimally weighted GMM estimator, so for large n
  it is normal with covariance (D' W D)^-1 / n (``asymptotic_cov``), a function of
  (alpha, beta) only for the standard law. Unlike the Cramer-Rao bound it is this estimator's
  covariance, it exists below alpha = 1.1, and it stays finite for alpha as alpha -> 2 (where
  the CRB for alpha goes to 0). ``interval_table.npz`` tabulates it (sds and correlations,
  made by ``tools/make_interval_table.py``).
* **Test inversion.** The interval for alpha is the set of alpha0 whose 95% acceptance region
  [L(alpha0), U(alpha0)] contains the estimate, with the sd evaluated *at alpha0*, not at the
  estimate. Near alpha = 2 the sd changes fast (it goes to 0 at 2), so the plug-in interval
  is far too narrow there while the inverted one is not. Likewise for beta, whose sd blows up
  like 1/(2 - alpha) and drops sharply as |beta| -> 1. Intervals of this kind stay inside the
  parameter space by construction; the clipped estimates (alpha-hat = 2, |beta-hat| = 1) are
  the limits of the unclipped ones, so they are covered too.
* **Second-order term at alpha = 2.** For Gaussian data the fit gives alpha-hat = 2 about half
  of the time and otherwise 2 - alpha-hat = O(1/n), not O(1/sqrt(n)): simulated,
  n (2 - alpha-hat) has its 95% point at C2(n) = 21-26 (``C2_Q`` at ``C2_N``; one-sided, as
  alpha-hat cannot exceed 2). L(alpha0) adds this term in quadrature,
  L = alpha0 - sqrt((1.96 sd)^2 + (C2(n) / n)^2).
* **beta where alpha = 2 cannot be excluded.** At alpha = 2 the law does not depend on beta,
  so when the alpha interval reaches 2 the beta interval is [-1, 1]. Otherwise beta is
  inverted at every alpha0 in the alpha interval (a union, projected: ``beta_interval``).
* **scale and loc.** Wald intervals from the same covariance, the scale's on the log scale
  (so it stays positive), the S1 location's by the delta method through
  delta1 = delta0 - beta gamma tan(pi alpha / 2).

The coverage this gives is measured by ``bench/bench_coverage.py`` (results in
``bench/results/coverage.md``) and asserted, on fewer repeats, by
``tests/test_stable_intervals.py``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ._tables import load

Z95 = 1.959963984540054
NAMES = ("alpha", "beta", "scale", "loc0")
PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


# ---------------------------------------------------------------- asymptotic covariance
def asymptotic_cov(alpha, beta, n_freq: int = 24) -> np.ndarray:
    """sqrt(n)-scaled asymptotic covariance of the GMM step of the ECF fit, standard S0 law.

    Order (alpha, beta, scale/scale, (loc0 - loc0)/scale); vectorised over alpha and beta
    (same shape). Frequencies and weights as in ``ecf.gmm_refine``; beta is always treated as
    free (its variance is infinite at alpha = 2, where the law does not depend on it).
    """
    from .batch import _ecf_covariance, cf_jacobian

    a = np.atleast_1d(np.asarray(alpha, float)).ravel()
    b = np.atleast_1d(np.asarray(beta, float)).ravel()
    t = (3.0 ** (1.0 / np.maximum(a, 0.3)))[:, None] * np.arange(1, n_freq + 1) / n_freq
    theta = np.column_stack([a, b, np.ones_like(a), np.zeros_like(a)])
    # W = pseudo-inverse of the ECF covariance, eigenvalues below 1e-9 of the largest dropped
    # (as ecf._whitener does when Cholesky fails: heavy tails make it ill conditioned)
    w_val, w_vec = np.linalg.eigh(_ecf_covariance(t, theta))
    keep = w_val > 1e-9 * w_val[:, -1:]
    root = w_vec * np.where(keep, 1.0 / np.sqrt(np.where(keep, w_val, 1.0)), 0.0)[:, None, :]
    jac = cf_jacobian(t, theta)
    a_w = np.swapaxes(root, 1, 2) @ jac
    cov = np.empty((a.size, 4, 4))
    at2 = a >= 2.0
    cov[~at2] = np.linalg.inv(np.swapaxes(a_w[~at2], 1, 2) @ a_w[~at2])
    if at2.any():  # beta drops out: invert the other three, beta's variance is infinite
        keep = [0, 2, 3]
        sub = a_w[at2][:, :, keep]
        c3 = np.linalg.inv(np.swapaxes(sub, 1, 2) @ sub)
        full = np.zeros((c3.shape[0], 4, 4))
        full[np.ix_(np.arange(c3.shape[0]), keep, keep)] = c3
        full[:, 1, 1] = np.inf
        cov[at2] = full
    return cov.reshape(np.shape(alpha) + (4, 4))


def sd_corr(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sds, the six correlations in PAIRS order) of a stack of 4x4 covariances."""
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.stack([cov[..., i, j] / (sd[..., i] * sd[..., j]) for i, j in PAIRS], -1)
    return sd, np.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)


@lru_cache(maxsize=1)
def _table() -> dict:
    t = load("interval_table")

    return {
        "alphas": t["ALPHAS"],
        "betas": t["BETAS"],
        "log_sd": np.log(t["SD"]),
        "corr": t["CORR"],
        "c2_n": np.log(t["C2_N"].astype(float)),
        "c2_q": t["C2_Q"],
        "k_reg": float(t["K_REG"]),
    }


def _lookup(alpha, beta, tab: dict | None = None, col=None) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation (sd via log sd, correlations) of the table at (alpha, |beta|);
    ``col``: only that sd (an int), and no correlations (the inversions need one column)."""
    tab = tab or _table()
    grid_a, grid_b, log_sd, corr = tab["alphas"], tab["betas"], tab["log_sd"], tab["corr"]
    if col is not None:
        log_sd, corr = log_sd[..., col : col + 1], corr[..., :0]
    a = np.clip(np.asarray(alpha, float), grid_a[0], grid_a[-1])
    b = np.clip(np.abs(np.asarray(beta, float)), grid_b[0], grid_b[-1])
    i = np.clip(np.searchsorted(grid_a, a, side="right") - 1, 0, grid_a.size - 2)
    j = np.clip(np.searchsorted(grid_b, b, side="right") - 1, 0, grid_b.size - 2)
    ta = ((a - grid_a[i]) / (grid_a[i + 1] - grid_a[i]))[..., None]
    tb = ((b - grid_b[j]) / (grid_b[j + 1] - grid_b[j]))[..., None]

    def mix(v):
        with np.errstate(invalid="ignore"):  # inf * 0 at alpha = 2: keep the inf
            out = (1 - ta) * ((1 - tb) * v[i, j] + tb * v[i, j + 1]) + ta * (
                (1 - tb) * v[i + 1, j] + tb * v[i + 1, j + 1]
            )
        return np.where(np.isnan(out), np.inf, out)

    return np.exp(mix(log_sd)), mix(corr)


def standard_sd(alpha, beta, tab: dict | None = None, col=None) -> np.ndarray:
    """sqrt(n) x asymptotic sd of (alpha, beta, scale/scale, loc0/scale), from the table
    (``col``: just that one, as an array of the broadcast shape of alpha and beta)."""
    out = _lookup(alpha, beta, tab, col)[0]
    return out if col is None else out[..., 0]


# ---------------------------------------------------------------- inversion
def _hull(cand: np.ndarray, accept, lo_lim: float, hi_lim: float):
    """[min, max] of the accepted candidates (sorted ``cand``), each end refined on two finer
    grids between it and its rejected neighbour (to 1/4096 of the candidate spacing)."""
    ok = accept(cand)
    if not ok.any():
        return math.nan, math.nan
    idx = np.flatnonzero(ok)
    ends = []
    for k, nb, lim in ((idx[0], idx[0] - 1, lo_lim), (idx[-1], idx[-1] + 1, hi_lim)):
        if nb < 0 or nb >= cand.size:
            ends.append(lim)
            continue
        good, bad = cand[k], cand[nb]
        for _ in range(2):
            fine = np.linspace(good, bad, 65)
            acc = accept(fine)
            j = int(np.argmin(acc)) if not acc.all() else fine.size - 1  # first rejected
            good, bad = fine[max(j - 1, 0)], fine[j]
        ends.append(float(good))
    return float(ends[0]), float(ends[1])


def second_order(n: int) -> float:
    """C2(n): the simulated 95% point of n (2 - alpha-hat) for Gaussian data, interpolated
    in log n (held constant beyond the simulated range, 1e3 to 1e5)."""
    tab = _table()
    return float(np.interp(math.log(n), tab["c2_n"], tab["c2_q"]))


def alpha_band(alpha0, beta, n: int, z: float = Z95):
    """Acceptance region [L, U] of alpha-hat when the truth is alpha0 (vectorised)."""
    c2 = second_order(n)
    s = standard_sd(alpha0, beta, col=0) / math.sqrt(n)
    return alpha0 - np.hypot(z * s, c2 / n), alpha0 + z * s


def alpha_interval(alpha_hat: float, beta_hat: float, n: int, z: float = Z95):
    """All alpha0 in (0, 2] whose acceptance region contains alpha_hat."""
    lo_lim = float(_table()["alphas"][0])
    s_hat = standard_sd(alpha_hat, beta_hat, col=0) / math.sqrt(n) + second_order(n) / n
    cand = np.unique(
        np.concatenate(
            [
                np.linspace(lo_lim, 2.0, 1801),
                np.clip(alpha_hat + s_hat * np.linspace(-10, 10, 401), lo_lim, 2.0),
                2.0 - np.logspace(-8, -1.5, 131),
                [2.0],
            ]
        )
    )

    def accept(a0):
        low, up = alpha_band(a0, beta_hat, n, z)
        return (low <= alpha_hat) & (alpha_hat <= up)

    lo, hi = _hull(cand, accept, lo_lim, 2.0)
    # the fit stops at alpha = 0.1 (the table's floor): accepted there, nothing smaller is
    # excluded either
    return (0.0 if lo <= lo_lim else lo), hi


def beta_interval(alpha_hat, beta_hat, a_hi, n: int, beta_from: str = "gmm", z: float = Z95):
    """All beta0 in [-1, 1] whose acceptance region (at alpha_hat) contains beta_hat.

    The sd is the larger of the sds at beta0 and at beta_hat: it drops sharply as |beta| -> 1,
    and the estimate's spread near the edge follows the inner one. [-1, 1] when the alpha
    interval reaches 2 (``a_hi``; beta is not identified there) or when the fit did not
    estimate beta (``beta_from="none"``); sd x ``K_REG`` when beta comes from the regression
    without the GMM step (``beta_from="regression"``, alpha-hat >= 1.99).
    """
    if a_hi >= 2.0 or beta_from == "none":
        return -1.0, 1.0
    alphas = np.r_[alpha_hat]
    root_n = math.sqrt(n) / (_table()["k_reg"] if beta_from == "regression" else 1.0)
    s_est = standard_sd(alphas, beta_hat, col=1) / root_n
    s_hat = s_est.max()
    cand = np.unique(
        np.r_[np.linspace(-1, 1, 2001), np.clip(beta_hat + s_hat * np.linspace(-8, 8, 321), -1, 1)]
    )

    def accept(b0):
        s = standard_sd(alphas[:, None], b0[None, :], col=1) / root_n
        s = np.maximum(s, s_est[:, None])
        return (np.abs(beta_hat - b0)[None, :] <= z * s).any(axis=0)

    return _hull(cand, accept, -1.0, 1.0)


def calibrated(alpha, beta, scale, loc0, n: int, parametrization: str = "S1",
               beta_from: str = "gmm", z: float = Z95):  # fmt: skip
    """(se, ci95, clipped, loc_se) of the ECF estimate (loc0 in S0); see the module docstring.

    ``se`` is the asymptotic sd at the estimate (infinite for beta at alpha = 2); ``clipped``
    lists the parameters whose interval ends at the edge of the parameter range; ``loc_se``
    holds the location's se in both parametrisations (for ``FitResult.to``).
    """
    a_lo, a_hi = alpha_interval(alpha, beta, n, z)
    if not math.isfinite(a_lo):  # cannot happen for alpha-hat in range; be explicit anyway
        raise ValueError(f"no alpha interval for alpha-hat = {alpha}, n = {n}")
    b_lo, b_hi = beta_interval(alpha, beta, a_hi, n, beta_from, z)
    sd, corr = _lookup(alpha, beta)
    root_n = math.sqrt(n)
    se = {"alpha": sd[0] / root_n, "beta": sd[1] / root_n, "scale": scale * sd[2] / root_n}
    ci = {
        "alpha": (a_lo, a_hi),
        "beta": (b_lo, b_hi),
        "scale": (scale * math.exp(-z * sd[2] / root_n), scale * math.exp(z * sd[2] / root_n)),
    }
    sdf = np.where(np.isfinite(sd), sd, 0.0)  # beta's inf at alpha = 2: shifts nothing there
    cov = np.outer(sdf, sdf) * _corr_matrix(corr)
    loc_se = {p: _loc_sd(alpha, beta, scale, cov, p) / root_n for p in ("S0", "S1")}
    se["loc"] = loc_se[parametrization]
    loc = loc0 if parametrization == "S0" else _to_s1(alpha, beta, scale, loc0)
    ci["loc"] = (loc - z * se["loc"], loc + z * se["loc"])
    edges = (("alpha", a_hi >= 2.0 or a_lo <= 0.0), ("beta", b_lo <= -1.0 or b_hi >= 1.0))
    clipped = [k for k, v in edges if v]
    return {k: float(v) for k, v in se.items()}, ci, clipped, loc_se


def _corr_matrix(corr: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    for (i, j), r in zip(PAIRS, corr, strict=True):
        m[i, j] = m[j, i] = r
    return m


def _to_s1(alpha, beta, scale, loc0):
    from .params import to_s1

    return float(to_s1(alpha, beta, scale, loc0))


def _loc_sd(alpha, beta, scale, cov, parametrization) -> float:
    """sqrt(n) sd of the location: S0 directly, S1 by the delta method (finite beta part)."""
    if parametrization == "S0":
        return float(scale * math.sqrt(cov[3, 3]))
    if alpha == 1.0:  # delta1 = delta0 - (2/pi) beta gamma log gamma
        k = 2 / math.pi
        grad = np.array([0.0, -k * math.log(scale), -k * beta * (math.log(scale) + 1), 1.0])
    else:
        tan = math.tan(math.pi * alpha / 2)
        dtan = (math.pi / 2) / math.cos(math.pi * alpha / 2) ** 2
        grad = np.array([-beta * dtan, -tan, -beta * tan, 1.0])
    # cov is for (alpha, beta, scale/scale, loc0/scale): every term is in units of scale,
    # which multiplies after the quadratic form (scale^2 overflows beyond 1e154)
    return float(scale * math.sqrt(max(grad @ cov @ grad, 0.0)))

"""Empirical characteristic function (ECF) in one pass, and Koutrouvelis' ECF regression.

Speed. Evaluating ``mean(exp(i t x))`` at K frequencies costs K sin/cos per sample, and an
iterative ECF regression needs fresh frequencies at every iteration. Instead we read the data
*once* into a summary (``EcfSummary``): a linearly binned histogram on a fine grid covering the
body of the sample, plus the few points outside it kept verbatim. Any number of ECF
evaluations afterwards cost O(grid) instead of O(n).

Accuracy of the summary. Linear binning with step h maps exp(i t x) to a two-point
interpolation; by Poisson summation its mean over the data is ``sinc^2(t h / 2) ECF(t)`` plus
aliased terms of relative size ``(t h)^2 / pi^2 * ECF(t + 2 pi m / h)``, which are below the
1/sqrt(n) noise for a smooth law. We divide by sinc^2 and keep t h <= 0.2, so the summary ECF
equals the exact ECF to far below its sampling error; sums are accumulated in float64.
Small samples (n below ``DIRECT_MAX``) skip binning and use the exact ECF.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .params import log_cf_s0, s0_phase

DIRECT_MAX = 20_000  # below this many points the exact ECF is as cheap as binning
SUBSAMPLE = 8192  # points used for the starting values (median, quartiles)
MAX_BINS = 1 << 16
CHUNK = 1 << 13  # points per chunk of the binning pass (64 KiB of float64)
SLAB = 1 << 18  # at least this many points per thread of the binning pass
# beta is lost as alpha -> 2 (its phase term vanishes like 2 - alpha): the regression sets it to
# 0 from BETA_ZERO_FROM and the GMM step keeps the regression's beta from BETA_FIXED_FROM on.
BETA_ZERO_FROM = 1.999
BETA_FIXED_FROM = 1.99


@dataclass(frozen=True)
class DirectEcf:
    """Exact ECF of a (small) sample."""

    x: np.ndarray  # float64

    @property
    def n(self) -> int:
        return self.x.size

    def ecf(self, t: np.ndarray, center: float = 0.0) -> np.ndarray:
        """``mean(exp(i t (x - center)))`` for each t."""
        return cis_sums(t, self.x - center) / self.x.size


@dataclass(frozen=True)
class EcfSummary:
    """Linearly binned sample on the grid ``lo + h * j`` plus the points outside it."""

    n: int
    lo: float
    h: float
    weights: np.ndarray  # float64, sums to n - outliers.size
    outliers: np.ndarray  # float64

    def ecf(self, t: np.ndarray, center: float = 0.0) -> np.ndarray:
        t = np.asarray(t, float)
        grid = self.lo - center + self.h * np.arange(self.weights.size)
        nz = self.weights != 0  # skip empty cells: the tails of the grid are sparse
        body = cis_sums(t, grid[nz], self.weights[nz]) / np.sinc(t * self.h / (2 * np.pi)) ** 2
        if self.outliers.size:
            body = body + cis_sums(t, self.outliers - center)
        return body / self.n


def _cis(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, complex)
    np.cos(a, out=out.real)
    np.sin(a, out=out.imag)
    return out


def cis_sums(t: np.ndarray, x: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """``sum_j w_j exp(i t_k x_j)`` for every t_k (w = 1 when None).

    The estimators ask for equally spaced t (t_k = t_0 + k d): then exp(i t_k x) follows from
    exp(i t_0 x) by k multiplications with exp(i d x), two trig calls per point instead of two
    per point and frequency. The k products add a relative rounding of ~k eps, far below the
    ECF's sampling error; other t are evaluated directly.
    """
    t = np.asarray(t, float)
    k = t.size
    d = (t[-1] - t[0]) / (k - 1) if t.ndim == 1 and k > 2 else 0.0
    if d == 0 or np.abs(np.diff(t) - d).max() > 1e-9 * abs(d):
        arg = np.multiply.outer(t, x)
        if w is None:
            return np.cos(arg).sum(axis=-1) + 1j * np.sin(arg).sum(axis=-1)
        return np.cos(arg) @ w + 1j * (np.sin(arg) @ w)
    step = _cis(d * x)
    # t = d, 2d, ... (the estimators' grids): the first term is the step itself.
    cur = step.copy() if abs(t[0] - d) <= 1e-12 * abs(d) else _cis(t[0] * x)
    if w is not None:
        cur *= w
    out = np.empty(k, complex)
    out[0] = cur.sum()
    for j in range(1, k):
        cur *= step
        out[j] = cur.sum()
    return out


def start_values(x: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(median, half-IQR, quantiles) of a fixed pseudo-random subsample, for windows and starts.

    A subsample of 8192 points costs ~0.3 ms and is accurate to a few per cent, which is all
    a starting value needs. The subsample uses a fixed seed, so fits are deterministic.
    """
    n = x.size
    sub = x if n <= SUBSAMPLE else x[np.random.default_rng(0).integers(0, n, SUBSAMPLE)]
    probs = [0.005, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995]
    q = np.quantile(sub.astype(np.float64, copy=False), probs)
    med, iqr = q[3], q[4] - q[2]
    spread = iqr / 2
    if spread <= 0:  # lattice-like data: fall back to wider quantiles, then the range
        spread = (q[5] - q[1]) / 6 or (float(x.max()) - float(x.min())) / 6
    return float(med), float(spread), q


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def summarize(
    x: np.ndarray,
    center: float,
    spread: float,
    q: np.ndarray | None = None,
    prep: Callable[[np.ndarray], np.ndarray] | None = None,
):
    """Read ``x`` once into an ``EcfSummary`` (or a ``DirectEcf`` for small samples).

    The grid covers center +- max(40 spread, 2 x the subsample's 0.5-99.5% half-range), so
    typically < 1% of points are outliers; its step is spread / 25 (sinc^2 corrected; for the
    frequencies the estimators use, t <= 5 / spread: t h <= 0.2), capped at 65536 cells.
    ``prep`` (elementwise, e.g. standardising) is applied to each chunk as it is read: the
    summary is that of ``prep(x)`` without a transformed copy of the whole sample.
    """
    if x.size <= DIRECT_MAX:
        return DirectEcf(np.asarray(x if prep is None else prep(x), dtype=np.float64))
    half = 40.0 * spread
    if q is not None:
        half = max(half, 2.0 * max(center - q[0], q[-1] - center))
    m = int(min(MAX_BINS, np.ceil(2 * half / (spread / 25.0)))) + 1
    h = 2 * half / (m - 1)
    lo = center - half
    # One slab per usable core, at least SLAB points each (threads cost more than they save
    # on small samples, and only cost on one core).
    slabs = np.array_split(x, max(1, min(usable_cores(), x.size // SLAB)))
    if len(slabs) == 1:
        parts = [_bin_slab(x, lo, h, m, prep)]
    else:
        with ThreadPoolExecutor(len(slabs)) as ex:
            parts = list(ex.map(lambda s: _bin_slab(s, lo, h, m, prep), slabs))
    counts = sum(p[0] for p in parts)
    fsum = sum(p[1] for p in parts)
    weights = counts - fsum
    weights[1:] += fsum[:-1]  # fractional weight goes to the right neighbour
    outliers = np.concatenate([p[2] for p in parts])
    return EcfSummary(x.size, lo, h, weights, outliers)


def _bin_slab(x: np.ndarray, lo: float, h: float, m: int, prep):
    """(counts, sum of fractional positions, outliers) of ``prep(x)`` on the grid lo + h j.

    Read in chunks of CHUNK points (or 4 m: a chunk's bincounts cost O(m)): small chunks keep
    the temporaries in cache and in the heap (chunks of 2 MB were mapped and unmapped by
    malloc every time, ~5000 page faults per 1e6 points). Arithmetic stays in the input dtype
    (float32 stays float32: the position error is ~1e-7 of the grid, far below h).
    """
    counts, sums, outliers = np.zeros(m + 1, np.int64), np.zeros(m + 1), []
    step = max(CHUNK, 4 * m)
    for i in range(0, x.size, step):
        c = x[i : i + step]
        z = c.astype(c.dtype) if prep is None else prep(c)  # a copy we may overwrite
        # Position on the grid plus one, clipped to [0, m]: cells 1..m-1 are the grid's
        # m - 1 intervals, 0 and m collect the outliers (truncation is floor here, >= 0).
        z -= z.dtype.type(lo - h)
        z *= z.dtype.type(1.0 / h)
        np.maximum(z, 0, out=z)  # (np.clip's Python wrapper costs more than the pass)
        np.minimum(z, m, out=z)
        cell = z.astype(np.intp)
        n_cell = np.bincount(cell, minlength=m + 1)
        counts += n_cell
        sums += np.bincount(cell, weights=z, minlength=m + 1)
        if n_cell[0] or n_cell[m]:
            out = c[(cell == 0) | (cell == m)]
            outliers.append((out if prep is None else prep(out)).astype(np.float64))
    # Per grid point j < m - 1 (bin j + 1); the last grid point starts no interval. The sum of
    # fractional positions is the sum of positions less count x the bin's integer position.
    fsum = np.zeros(m)
    fsum[:-1] = sums[1:m] - counts[1:m] * np.arange(1, m, dtype=np.float64)
    counts[m] = 0
    return counts[1:].astype(np.float64), fsum, np.concatenate([np.empty(0), *outliers])


def beta_source(alpha_start: float, refine: bool = True) -> str:
    """Which step set beta, given the regression's alpha: "gmm", "regression" or "none" (0)."""
    if alpha_start >= BETA_ZERO_FROM:
        return "none"
    return "gmm" if refine and alpha_start < BETA_FIXED_FROM else "regression"


def n_frequencies(alpha: float) -> tuple[int, int]:
    """Number of real-part (K) and phase (L) frequencies for the Koutrouvelis regressions.

    Grid t_k = pi k / 25 (real part) and u_l = pi l / 50 (phase), in units of the current scale
    estimate. Heavier tails (smaller alpha) keep |phi| informative to higher t, so use more.
    Our own smooth rule, tuned in bench/bench_stable.py against the CRB: K = 9 and L = 11 at
    alpha = 1.9, rising by 7.5 per unit decrease of alpha.
    """
    d = 1.9 - min(max(alpha, 0.3), 2.0)
    return int(np.clip(round(9 + 7.5 * d), 9, 30)), int(np.clip(round(11 + 7.5 * d), 10, 40))


@dataclass(frozen=True)
class EcfFit:
    alpha: float
    beta: float
    scale: float
    loc0: float  # S0 location
    iterations: int
    converged: bool


def _ols(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(design, y, rcond=None)[0]


def stop_tolerance(n: int, tol: float = 1e-5) -> float:
    """The iteration's stopping step: ``tol``, or 5% of 1/sqrt(n) if larger.

    The frequency counts change in steps with alpha, so near a step the iteration can cycle
    with an amplitude of ~1e-4; steps far below the estimate's sampling error (~1/sqrt(n)) are
    noise, and the GMM refinement that follows starts from wherever the iteration stopped.
    """
    return max(tol, 0.05 / np.sqrt(n))


def koutrouvelis(
    src, center: float, spread: float, alpha0: float = 1.5, max_iter: int = 10, tol: float = 1e-5
) -> EcfFit:
    """Iterated Koutrouvelis (1980) regression on an ECF source, in S0 (Kogon-Williams phase).

    Each iteration standardises by the current (scale, loc0) - on the summary that is only a
    change of frequency units and of the phase origin, the data are not touched - then
      1. regresses log(-log|phi(t_k)|^2) = log 2 + alpha log(gamma') + alpha log t_k (OLS),
      2. re-standardises with gamma', and regresses arg phi(u_l) = delta' u_l +
         beta * s0_phase(alpha, u_l) (OLS), which is continuous through alpha = 1.
    """
    alpha, beta, scale, loc0 = alpha0, 0.0, spread, center
    n = src.n
    tol = stop_tolerance(n, tol)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is reported
        k, l_ = n_frequencies(alpha)
        t = np.pi * np.arange(1, k + 1) / 25
        phi = src.ecf(t / scale, loc0)
        mod2 = phi.real**2 + phi.imag**2
        ok = (mod2 > 4.0 / n) & (mod2 < 1 - 1e-12)  # drop frequencies lost in the noise
        if ok.sum() < 3:
            ok = mod2 < 1 - 1e-12
            if ok.sum() < 2:
                raise ValueError("empirical characteristic function is degenerate")
        y = np.log(-np.log(mod2[ok]))
        lt = np.log(t[ok])
        c0, a_new = _ols(np.column_stack([np.ones_like(lt), lt]), y)
        a_new = float(min(max(a_new, 0.1), 2.0))
        gamma_ratio = float(np.exp((c0 - np.log(2.0)) / a_new))
        scale_new = scale * gamma_ratio
        u = np.pi * np.arange(1, l_ + 1) / 50
        phi = src.ecf(u / scale_new, loc0)
        arg = np.angle(phi)
        reg = s0_phase(a_new, u)
        if a_new >= BETA_ZERO_FROM or np.max(np.abs(reg)) < 1e-12:  # beta not identifiable
            d_new, b_new = float(_ols(u[:, None], arg)[0]), 0.0
        else:
            d_new, b_new = (float(v) for v in _ols(np.column_stack([u, reg]), arg))
        b_new = min(max(b_new, -1.0), 1.0)
        loc_new = loc0 + scale_new * d_new
        change = max(abs(a_new - alpha), abs(b_new - beta), abs(np.log(scale_new / scale)))
        change = max(change, abs(loc_new - loc0) / scale_new)
        alpha, beta, scale, loc0 = a_new, b_new, scale_new, loc_new
        if change < tol:
            converged = True
            break
    return EcfFit(alpha, beta, scale, loc0, it, converged)


def _cf_components(t, alpha, beta, gamma, delta):
    """(Re, Im) of the S0 characteristic function at t (t may be any real array)."""
    c = np.exp(log_cf_s0(t, alpha, beta, gamma, delta))
    return c.real, c.imag


def ecf_covariance(t: np.ndarray, theta) -> np.ndarray:
    """Covariance of one observation's (cos(t_j X), sin(t_j X)) under the law theta (S0)."""
    s, u = np.meshgrid(t, t, indexing="ij")
    rp, ip = _cf_components(s + u, *theta)
    rm, im = _cf_components(s - u, *theta)
    r, i = _cf_components(t, *theta)
    cc = 0.5 * (rp + rm) - np.outer(r, r)
    ss = 0.5 * (rm - rp) - np.outer(i, i)
    cs = 0.5 * (ip - im) - np.outer(r, i)  # Cov(cos(s X), sin(u X))
    return np.block([[cc, cs], [cs.T, ss]])


def _whitener(sig: np.ndarray) -> np.ndarray:
    """R with R R' = sig^-1: Cholesky (cheap; sig is well conditioned on our grids), else an
    eigen-decomposition that drops eigenvalues below 1e-9 of the largest."""
    try:
        chol = np.linalg.cholesky(sig)
        return np.linalg.inv(chol).T
    except np.linalg.LinAlgError:
        w_val, w_vec = np.linalg.eigh(sig)
        keep = w_val > 1e-9 * w_val.max()
        return w_vec[:, keep] / np.sqrt(w_val[keep])


def gmm_refine(src, fit: EcfFit, n_freq: int = 24, steps: int = 3) -> tuple[EcfFit, np.ndarray]:
    """Optimally weighted ECF (GMM) refinement of a Koutrouvelis fit; returns (fit, cov).

    Moment conditions: Re/Im of ECF(t_j) - phi_theta(t_j) on t_j = j t_max / J in units of the
    current scale, with t_max^alpha = 3 (|phi| ~ 0.05). Weight = inverse of the asymptotic
    covariance of the ECF under the current estimate (Feuerverger & McDunnough 1981), so the
    estimator approaches the efficiency of the MLE as the grid fills in; eigenvalues below
    1e-9 of the largest are dropped if it is ill conditioned. A few Gauss-Newton
    steps on fixed ECF values (no new pass over the data); ``cov`` is the asymptotic covariance
    (D' W D)^-1 / n of (alpha, beta, scale, loc0).
    """
    c, s = fit.loc0, fit.scale
    t_max = 3.0 ** (1.0 / max(fit.alpha, 0.3))
    t = t_max * np.arange(1, n_freq + 1) / n_freq
    phi = src.ecf(t / s, c)
    obs = np.concatenate([phi.real, phi.imag])
    theta = np.array([fit.alpha, fit.beta, 1.0, 0.0])
    free = [0, 1, 2, 3] if fit.alpha < BETA_FIXED_FROM else [0, 2, 3]
    cov = np.full((4, 4), np.nan)
    for _ in range(steps):
        root = _whitener(ecf_covariance(t, theta))  # W = root root'
        model = np.concatenate(_cf_components(t, *theta))
        jac = np.empty((obs.size, 4))
        for k in range(4):
            h = 1e-6
            tp, tm = theta.copy(), theta.copy()
            tp[k] += h
            tm[k] -= h
            if k == 0 and tp[0] > 2.0:
                tp[0], tm[0] = 2.0, 2.0 - 2 * h
            if k == 1:
                tp[1], tm[1] = min(tp[1], 1.0), max(tm[1], -1.0)
            jac[:, k] = (
                np.concatenate(_cf_components(t, *tp)) - np.concatenate(_cf_components(t, *tm))
            ) / (tp[k] - tm[k])
        a_w = root.T @ jac[:, free]
        r_w = root.T @ (obs - model)
        step = np.linalg.lstsq(a_w, r_w, rcond=None)[0]
        theta[free] += step
        theta[0] = min(max(theta[0], 0.1), 2.0)
        theta[1] = min(max(theta[1], -1.0), 1.0)
        theta[2] = max(theta[2], 1e-3)
        info = np.linalg.pinv(a_w.T @ a_w)
        cov = np.zeros((4, 4))
        cov[np.ix_(free, free)] = info / src.n
    scale = s * theta[2]
    j = np.diag([1.0, 1.0, s, s])  # back to data units
    out = EcfFit(theta[0], theta[1], scale, c + s * theta[3], fit.iterations, fit.converged)
    return out, j @ cov @ j

"""``fit_batch``: the ECF point estimate of many equal-length samples at once.

The same estimator as ``fit(row, "ecf", uncertainty="none")`` - iterated Koutrouvelis
regressions (``ecf.koutrouvelis``), then the GMM refinement (``ecf.gmm_refine``) - run on all
rows together: every step is an array operation over rows, so the Python overhead of one fit
(most of its cost below ~1e4 points) is paid once per batch. Every ECF the estimator reads is
on an arithmetic grid t_k = k dt, so it is evaluated as powers of exp(i dt x): one sin/cos per
point per call instead of one per point and frequency. Results differ from the one-at-a-time
fit by float rounding only (a fraction 1e-9 of alpha typically; the tests allow 1e-6, the
size of the iterations' stopping tolerance, in case a row stops one iteration apart).
"""

from __future__ import annotations

import numpy as np

from .ecf import (
    BETA_FIXED_FROM,
    BETA_ZERO_FROM,
    DIRECT_MAX,
    _whitener,
    start_values,
    stop_tolerance,
    summarize,
)
from .params import to_s1

METHODS = ("ecf", "quantile", "mohammadi")  # as in fit.py (not imported: fit imports us)

KEYS = ("alpha", "beta", "scale", "loc")
CLIP = 1e15  # as fit: standardised values beyond this many spreads are clipped
CELLS = 1 << 18  # complex temporaries per chunk of rows (4 MiB: stays in cache)
PI = np.pi


class BatchEcf:
    """ECF sources of R samples of n points each: the raw rows, or their binned summaries.

    Row i holds points ``pts[i]`` with weights ``wts[i]`` (None: all 1); the grid cells of a
    binned summary are flagged in ``grid`` and sinc^2-corrected as in ``EcfSummary`` (step
    ``h[i]``), the verbatim outliers are not; padding slots have weight 0.
    """

    def __init__(self, rows: np.ndarray, starts: list):
        self.n = rows.shape[1]
        self.wts = self.grid = None
        if self.n <= DIRECT_MAX:
            self.pts = np.asarray(rows, np.float64)
            return
        parts, hs = [], []
        for r, (c, s, q) in zip(rows, starts, strict=True):
            summ = summarize(r, c, s, q)
            nz = np.flatnonzero(summ.weights)
            parts.append((summ.lo + summ.h * nz, summ.weights[nz], summ.outliers))
            hs.append(summ.h)
        m = max(g.size + o.size for g, _, o in parts)
        self.pts, self.wts = np.zeros((len(parts), m)), np.zeros((len(parts), m))
        self.grid = np.zeros((len(parts), m), bool)
        for i, (g, w, o) in enumerate(parts):
            k = g.size + o.size
            self.pts[i, :k] = np.concatenate([g, o])
            self.wts[i, :k] = np.concatenate([w, np.ones(o.size)])
            self.grid[i, : g.size] = True
        self.h = np.array(hs)

    def ecf(self, rows: np.ndarray, dt: np.ndarray, k: int, center: np.ndarray) -> np.ndarray:
        """``mean(exp(i t (x - center)))`` of each row at t = dt_i * (1..k): shape (rows, k)."""
        out = np.empty((rows.size, k), complex)
        step = max(1, CELLS // max(1, self.pts.shape[1]))
        for a in range(0, rows.size, step):
            r, sl = rows[a : a + step], slice(a, a + step)
            z = np.exp(1j * dt[sl, None] * (self.pts[r] - center[sl, None]))
            if self.wts is not None:
                wg = np.where(self.grid[r], self.wts[r], 0.0)
                wo = self.wts[r] - wg
            acc = z.copy()
            for j in range(k):
                if self.wts is None:
                    out[sl, j] = acc.sum(axis=1)
                else:
                    sinc2 = np.sinc((j + 1) * dt[sl] * self.h[r] / (2 * PI)) ** 2
                    out[sl, j] = np.einsum("ij,ij->i", acc, wg) / sinc2
                    out[sl, j] += np.einsum("ij,ij->i", acc, wo)
                if j + 1 < k:
                    acc *= z
        return out / self.n


def s0_phase(alpha: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``params.s0_phase`` for an array of alphas (broadcast against t > 0)."""
    lt = np.log(t)
    d = alpha - 1.0
    near = np.abs(d) < 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        far = -t * np.expm1(d * lt) / np.tan(PI * np.where(near, 1.0, d) / 2)
    return np.where(near, -(2 / PI) * t * lt, far)


def _cf(t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """S0 characteristic function; theta (R, 4) = (alpha, beta, gamma, delta0), t (R, ...)."""
    a, b, g, d = (theta[:, i].reshape((-1,) + (1,) * (t.ndim - 1)) for i in range(4))
    at = np.abs(t)
    pos = at > 0
    phase = np.where(pos, b * s0_phase(a, np.where(pos, g * at, 1.0)), 0.0)
    return np.exp(-((g * at) ** a) + 1j * (np.sign(t) * phase + d * t))


def _ecf_covariance(t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``ecf.ecf_covariance`` for every row: t (R, J), theta (R, 4) -> (R, 2J, 2J)."""
    s, u = t[:, :, None], t[:, None, :]
    cp, cm, c1 = _cf(s + u, theta), _cf(s - u, theta), _cf(t, theta)
    r, i = c1.real, c1.imag
    cc = 0.5 * (cp.real + cm.real) - r[:, :, None] * r[:, None, :]
    ss = 0.5 * (cm.real - cp.real) - i[:, :, None] * i[:, None, :]
    cs = 0.5 * (cp.imag - cm.imag) - r[:, :, None] * i[:, None, :]
    top = np.concatenate([cc, cs], axis=2)
    bottom = np.concatenate([np.swapaxes(cs, 1, 2), ss], axis=2)
    return np.concatenate([top, bottom], axis=1)


def _n_frequencies(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ecf.n_frequencies`` for an array of alphas (the same rounding: half to even)."""
    d = 1.9 - np.clip(alpha, 0.3, 2.0)
    return np.clip(np.round(9 + 7.5 * d), 9, 30).astype(int), np.clip(
        np.round(11 + 7.5 * d), 10, 40
    ).astype(int)


def _ri(c: np.ndarray) -> np.ndarray:
    return np.concatenate([c.real, c.imag], axis=1)


def koutrouvelis_batch(src: BatchEcf, center, spread, max_iter: int = 10, tol: float = 1e-5):
    """``ecf.koutrouvelis`` on every row; returns (alpha, beta, scale, loc0, failed)."""
    m = center.size
    alpha, beta = np.full(m, 1.5), np.zeros(m)
    scale, loc0 = spread.astype(float), center.astype(float)
    active, failed = np.ones(m, bool), np.zeros(m, bool)
    n = src.n
    tol = stop_tolerance(n, tol)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        kk, ll = _n_frequencies(alpha[idx])
        k_max, l_max = int(kk.max()), int(ll.max())
        # 1. log(-log|phi|^2) on log t, over the frequencies above the noise
        phi = src.ecf(idx, (PI / 25) / scale[idx], k_max, loc0[idx])
        mod2 = phi.real**2 + phi.imag**2
        valid = np.arange(1, k_max + 1) <= kk[:, None]
        ok = valid & (mod2 > 4.0 / n) & (mod2 < 1 - 1e-12)
        few = ok.sum(axis=1) < 3
        ok[few] = valid[few] & (mod2[few] < 1 - 1e-12)
        bad = ok.sum(axis=1) < 2
        ok[bad] = False
        w = ok.astype(float)
        cnt = np.maximum(w.sum(axis=1), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(ok, np.log(-np.log(np.where(ok, mod2, 0.5))), 0.0)
        lt = np.log(PI * np.arange(1, k_max + 1) / 25)[None, :]
        mx, my = (w * lt).sum(axis=1) / cnt, (w * y).sum(axis=1) / cnt
        sxx = (w * (lt - mx[:, None]) ** 2).sum(axis=1)
        sxy = (w * (lt - mx[:, None]) * (y - my[:, None])).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            a_new = np.where(bad, 1.5, sxy / np.where(bad, 1.0, sxx))
        c0 = my - a_new * mx
        a_new = np.clip(a_new, 0.1, 2.0)
        scale_new = scale[idx] * np.exp((c0 - np.log(2.0)) / a_new)
        # 2. the phase on [u, s0_phase(alpha, u)]
        u = PI * np.arange(1, l_max + 1) / 50
        arg = np.angle(src.ecf(idx, (PI / 50) / scale_new, l_max, loc0[idx]))
        vl = (np.arange(1, l_max + 1) <= ll[:, None]).astype(float)
        reg = s0_phase(a_new[:, None], u[None, :]) * vl
        suu, sua = (vl * u * u).sum(axis=1), (vl * u * arg).sum(axis=1)
        sur, srr, sra = (u * reg).sum(axis=1), (reg * reg).sum(axis=1), (reg * arg).sum(axis=1)
        one = (a_new >= BETA_ZERO_FROM) | (np.abs(reg).max(axis=1) < 1e-12)
        det = suu * srr - sur * sur
        with np.errstate(divide="ignore", invalid="ignore"):
            d2 = (srr * sua - sur * sra) / det
            b2 = (suu * sra - sur * sua) / det
        d_new = np.where(one, sua / suu, d2)
        b_new = np.clip(np.where(one, 0.0, b2), -1.0, 1.0)
        loc_new = loc0[idx] + scale_new * d_new
        change = np.maximum.reduce(
            [
                np.abs(a_new - alpha[idx]),
                np.abs(b_new - beta[idx]),
                np.abs(np.log(scale_new / scale[idx])),
                np.abs(loc_new - loc0[idx]) / scale_new,
            ]
        )
        good = ~bad
        g = idx[good]
        alpha[g], beta[g], scale[g], loc0[g] = (
            a_new[good],
            b_new[good],
            scale_new[good],
            loc_new[good],
        )
        failed[idx[bad]] = True
        active[idx[bad | (change < tol)]] = False
    return alpha, beta, scale, loc0, failed


def cf_jacobian(t, theta, h: float = 1e-6, clip_beta: bool = False) -> np.ndarray:
    """Central differences of the real and imaginary CF on the rows' grids ``t`` in (alpha,
    beta, scale, loc0), per row of ``theta``: shape (rows, 2 * len(t), 4). Steps of alpha stay
    at or below 2 (one-sided at the boundary); with ``clip_beta`` those of beta stay in [-1, 1].
    """
    jac = np.empty((theta.shape[0], 2 * t.shape[-1], 4))
    for k in range(4):
        tp, tm = theta.copy(), theta.copy()
        tp[:, k] += h
        tm[:, k] -= h
        if k == 0:
            over = tp[:, 0] > 2.0
            tp[over, 0], tm[over, 0] = 2.0, 2.0 - 2 * h
        if k == 1 and clip_beta:
            tp[:, 1], tm[:, 1] = np.minimum(tp[:, 1], 1.0), np.maximum(tm[:, 1], -1.0)
        jac[:, :, k] = (_ri(_cf(t, tp)) - _ri(_cf(t, tm))) / (tp[:, k] - tm[:, k])[:, None]
    return jac


def gmm_refine_batch(src: BatchEcf, rows, alpha, beta, scale, loc0, n_freq=24, steps=3):
    """``ecf.gmm_refine`` on the given rows; returns (alpha, beta, scale, loc0)."""
    c, s = loc0, scale
    t_max = 3.0 ** (1.0 / np.maximum(alpha, 0.3))
    t = t_max[:, None] * np.arange(1, n_freq + 1) / n_freq
    obs = _ri(src.ecf(rows, (t_max / n_freq) / s, n_freq, c))
    theta = np.column_stack([alpha, beta, np.ones_like(alpha), np.zeros_like(alpha)])
    four = alpha < BETA_FIXED_FROM  # beta is held fixed as alpha -> 2, as in gmm_refine
    h = 1e-6
    for _ in range(steps):
        sig = _ecf_covariance(t, theta)
        resid = obs - _ri(_cf(t, theta))
        jac = cf_jacobian(t, theta, h, clip_beta=True)
        delta = np.zeros_like(theta)
        try:  # W = root root' with root = inv(chol)': whiten by solving with chol
            chol = np.linalg.cholesky(sig)
            a_w = np.linalg.solve(chol, jac)
            r_w = np.linalg.solve(chol, resid[:, :, None])
            for mask, free in ((four, [0, 1, 2, 3]), (~four, [0, 2, 3])):
                if mask.any():
                    q, rr = np.linalg.qr(a_w[mask][:, :, free])
                    qr_ = np.swapaxes(q, 1, 2) @ r_w[mask]
                    delta[np.ix_(mask, free)] = np.linalg.solve(rr, qr_)[:, :, 0]
        except np.linalg.LinAlgError:  # some row ill conditioned: that row's way, row by row
            for i in range(theta.shape[0]):
                free = [0, 1, 2, 3] if four[i] else [0, 2, 3]
                root = _whitener(sig[i])
                a_w = root.T @ jac[i][:, free]
                delta[i, free] = np.linalg.lstsq(a_w, root.T @ resid[i], rcond=None)[0]
        theta += delta
        theta[:, 0] = np.clip(theta[:, 0], 0.1, 2.0)
        theta[:, 1] = np.clip(theta[:, 1], -1.0, 1.0)
        theta[:, 2] = np.maximum(theta[:, 2], 1e-3)
    return theta[:, 0], theta[:, 1], s * theta[:, 2], c + s * theta[:, 3]


def _check(X) -> np.ndarray:
    arr = np.asarray(X)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"X must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D array (one sample per row), got shape {arr.shape}")
    if arr.shape[1] < 20:
        raise ValueError(f"too few points per row for the ECF fit: {arr.shape[1]} < 20")
    if arr.dtype.kind in "iu" or arr.dtype.itemsize < 4:
        arr = arr.astype(np.float64)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        raise ValueError(f"X has non-finite values (NaN/inf), first in row {np.argmin(finite)}")
    return arr


def fit_batch(X, method: str = "ecf") -> dict[str, np.ndarray]:
    """Point estimates of the stable law of every row of the 2-D array ``X`` (one sample each).

    Returns ``{"alpha", "beta", "scale", "loc"}``, one float64 array entry per row, ``loc`` in
    S1: the estimate of ``fit(row, method, uncertainty="none")``, computed for all rows at once
    for ``method="ecf"`` (a loop over ``fit`` for the other methods). A row that ``fit`` would
    refuse (constant, or a degenerate ECF) gives NaN instead of stopping the batch.
    """
    arr = _check(X)
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return _fit_ecf(arr)[0] if method == "ecf" else _loop(arr, method)


def _fit_ecf(arr: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(estimates, the regression's alpha per row) for a checked 2-D array.

    Like ``fit``, each row is fitted standardised by its start values, (x - median) / half-IQR
    clipped to +-CLIP (scale-free: no overflow in t x), and mapped back (S0 is location-scale).
    """
    m = arr.shape[0]
    out = {k: np.full(m, np.nan) for k in KEYS}
    alpha_start = np.full(m, np.nan)
    center, spread, qs = np.zeros(m), np.ones(m), [None] * m
    usable = np.zeros(m, bool)
    for i, row in enumerate(arr):
        c, s, q = start_values(row)
        usable[i] = s > 0 and row.min() < row.max()
        if usable[i]:
            center[i], spread[i], qs[i] = c, s, (q - c) / s
    rows = np.flatnonzero(usable)
    if rows.size == 0:
        return out, alpha_start
    z = np.subtract(arr[rows], center[rows, None], dtype=np.float64)
    z /= spread[rows, None]
    np.clip(z, -CLIP, CLIP, out=z)
    src = BatchEcf(z, [(0.0, 1.0, qs[i]) for i in rows])
    zeros, ones = np.zeros(rows.size), np.ones(rows.size)
    a, b, g, d0, failed = koutrouvelis_batch(src, zeros, ones)
    ok = np.flatnonzero(~failed)
    alpha_start[rows[ok]] = a[ok]
    a, b, g, d0 = gmm_refine_batch(src, ok, a[ok], b[ok], g[ok], d0[ok])
    keep = rows[ok]
    g, d0 = g * spread[keep], center[keep] + spread[keep] * d0  # back to data units
    out["alpha"][keep], out["beta"][keep], out["scale"][keep] = a, b, g
    out["loc"][keep] = to_s1(a, b, g, d0)
    return out, alpha_start


def _loop(arr: np.ndarray, method: str) -> dict[str, np.ndarray]:
    from .fit import fit

    out = {k: np.full(arr.shape[0], np.nan) for k in KEYS}
    for i, row in enumerate(arr):
        try:
            r = fit(row, method, uncertainty="none", moments=False)
        except ValueError:
            continue
        for k in KEYS:
            out[k][i] = getattr(r, k)
    return out

"""Generate the two small tables that ``gnitails.stable`` ships, from scipy's stable law.

    .venv/bin/python tools/make_stable_tables.py quantiles   # ~1-2 min on 2 cores
    .venv/bin/python tools/make_stable_tables.py crb         # ~15 min of 1 core (75 cells)

Both are written as ``.npz`` package data next to the code that reads them (full precision):

* ``quantile_table.npz``: the 5%, 25%, 50%, 75% and 95% quantiles of the *standard S0 law*
  S0(alpha, beta, 1, 0) on a grid alpha x beta (beta >= 0; beta < 0 follows by reflection).
  Every quantile is a root of scipy's ``levy_stable.cdf`` (Nolan's integral) found by
  ``brentq`` to 1e-11. McCulloch's estimator interpolates these *forward* functions with cubic
  splines and inverts them numerically, which avoids the bias of linearly interpolating
  inverted tables (what scipy's ``_fitstart`` does).
* ``crb_table.npz``: sqrt(n) x Cramer-Rao standard deviations of (alpha, beta, scale, loc_S0,
  loc_S1) for the standard law, all four parameters unknown. The Fisher information is
  integrated numerically from scipy's S0 pdf on z = sinh(u) with Simpson's rule; the alpha and
  beta scores are central differences of log pdf, the scale and location scores follow from the
  z-derivative (location-scale family).

  scipy's pdf near x0 = zeta = -beta tan(pi alpha/2) (``safe_pdf``): by default scipy sets x0 to
  zeta within 0.005 alpha^(1/alpha) of it (Nolan's tol(5)), so the pdf is flat there and jumps
  at the window's edges. Finite differences across those edges - in z, and in alpha and beta,
  which move zeta - add spurious information: the first version of this table was about 1%
  optimistic at (1.5, 0.5) and up to 1.6% (3% for loc_S1) in other cells, wherever grid points
  happened to fall in a window. Without the rounding, Nolan's integral is wrong (up to 80% low) in
  a narrower window (1e-6 of zeta at alpha >= 1.5, up to 1e-3 at (1.1, 0.9)). So we switch the
  rounding off and, within w = 0.01 max(1, |zeta|) of zeta, take log pdf from a degree-7
  polynomial through 8 points at 1 to 2.5 w on both sides (the pdf is analytic there).
  tests/test_stable_edges.py checks cells against an independent Gauss-Legendre quadrature.

alpha = 1 itself is left out: scipy's pdf is unreliable within 1e-3 of it (gh-12658), and
the bound is smooth there, so it is interpolated between 0.9 and 1.1.

No third-party tables are used or copied.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gnitails.stable._tables import save

PKG = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "gnitails" / "stable"

Q_PROBS = (0.05, 0.25, 0.5, 0.75, 0.95)
Q_ALPHAS = np.round(np.arange(0.5, 2.0001, 0.05), 10)
Q_BETAS = np.round(np.arange(0.0, 1.0001, 0.1), 10)

CRB_ALPHAS = np.array([0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 1.95, 1.98])
CRB_BETAS = np.array([0.0, 0.25, 0.5, 0.75, 0.9])


def _stable():
    from scipy.stats import levy_stable

    levy_stable.parameterization = "S0"  # class attribute; set in this worker process only
    return levy_stable


def _quantiles_cell(args: tuple[float, float]) -> list[float]:
    from scipy.optimize import brentq

    alpha, beta = args
    ls = _stable()
    if alpha == 2.0:  # N(0, 2): exact
        from scipy.stats import norm

        return [float(np.sqrt(2.0) * norm.ppf(p)) for p in Q_PROBS]
    out = []
    for p in Q_PROBS:
        guess = float(ls.ppf(p, alpha, beta))
        lo, hi = guess - 0.5, guess + 0.5
        while ls.cdf(lo, alpha, beta) > p:
            lo -= 2 * (hi - lo)
        while ls.cdf(hi, alpha, beta) < p:
            hi += 2 * (hi - lo)
        out.append(brentq(lambda q, p=p: ls.cdf(q, alpha, beta) - p, lo, hi, xtol=1e-11))
    return out


def make_quantiles(workers: int) -> None:
    cells = [(float(a), float(b)) for a in Q_ALPHAS for b in Q_BETAS]
    with ProcessPoolExecutor(workers) as ex:
        rows = list(ex.map(_quantiles_cell, cells, chunksize=4))
    q = np.array(rows).reshape(len(Q_ALPHAS), len(Q_BETAS), len(Q_PROBS))
    save(
        PKG / "quantile_table.npz",
        "Quantiles of the standard S0 law, made by tools/make_stable_tables.py quantiles.",
        ALPHAS=Q_ALPHAS,
        BETAS=Q_BETAS,
        PROBS=np.array(Q_PROBS),
        QUANTILES=q,
    )


ZETA_WINDOW = 0.01  # half-width of the window around zeta, in units of max(1, |zeta|)
ZETA_NODES = np.array([-2.5, -2.0, -1.5, -1.0, 1.0, 1.5, 2.0, 2.5])  # in units of the window


def safe_pdf(z, alpha: float, beta: float) -> np.ndarray:
    """scipy's standard S0 pdf at z, made smooth and accurate near zeta (module docstring)."""
    ls = _stable()
    ls.piecewise_x_tol_near_zeta = 0.0  # no rounding of x to zeta: the window below instead
    z = np.asarray(z, dtype=float)
    zeta = -beta * np.tan(np.pi * alpha / 2)  # scipy's (Nolan's) zeta in S0 coordinates
    w = ZETA_WINDOW * max(1.0, abs(zeta))
    near = np.abs(z - zeta) < w
    f = np.empty_like(z)
    f[~near] = ls.pdf(z[~near], alpha, beta)
    if near.any():
        coef = np.polyfit(ZETA_NODES, np.log(ls.pdf(zeta + w * ZETA_NODES, alpha, beta)), 7)
        f[near] = np.exp(np.polyval(coef, (z[near] - zeta) / w))
    return f


def _fisher_cell(args: tuple[float, float, int]) -> list[float]:
    alpha, beta, npts = args
    # Heavier tails need a wider range for the alpha score (it grows like log|z|).
    zmax = min(10.0 ** (7.0 / alpha), 1e12)
    u = np.linspace(-np.arcsinh(zmax), np.arcsinh(zmax), npts)
    z, dz = np.sinh(u), np.cosh(u)
    ha = 1e-3 if alpha + 1e-3 <= 2.0 else None

    def logf(x, a=alpha, b=beta):
        return np.log(safe_pdf(x, a, b))

    f = safe_pdf(z, alpha, beta)
    hz = 1e-4 * np.maximum(1.0, np.abs(z))
    dlogf_dz = (logf(z + hz) - logf(z - hz)) / (2 * hz)
    if ha is not None:
        s_a = (logf(z, alpha + ha) - logf(z, alpha - ha)) / (2 * ha)
    else:  # one-sided at the alpha = 2 edge
        s_a = (np.log(f) - logf(z, alpha - 1e-3)) / 1e-3
    hb = 1e-3
    b_lo, b_hi = max(beta - hb, -1.0), min(beta + hb, 1.0)
    s_b = (logf(z, alpha, b_hi) - logf(z, alpha, b_lo)) / (b_hi - b_lo)
    s_g = -(1.0 + z * dlogf_dz)  # d/dgamma log((1/g) f((x-d)/g)) at g=1, d=0
    s_d = -dlogf_dz
    scores = np.stack([s_a, s_b, s_g, s_d])
    # Far tails where scipy's pdf underflows or a difference is not finite carry no mass.
    bad = ~(np.isfinite(scores).all(axis=0) & (f > 0))
    scores[:, bad] = 0.0
    w = np.where(bad, 0.0, f * dz)
    from scipy.integrate import simpson

    fisher = np.array(
        [[simpson(scores[i] * scores[j] * w, x=u) for j in range(4)] for i in range(4)]
    )
    mass = simpson(w, x=u)
    cov = np.linalg.inv(fisher)
    # S1 location: d1 = d0 - beta * gamma * tan(pi alpha / 2) (alpha != 1); delta method.
    if abs(alpha - 1.0) > 1e-9:
        t = np.tan(np.pi * alpha / 2)
        dt_da = (np.pi / 2) / np.cos(np.pi * alpha / 2) ** 2
        grad = np.array([-beta * dt_da, -t, -beta * t, 1.0])
        sd_d1 = float(np.sqrt(grad @ cov @ grad))
    else:
        sd_d1 = float("nan")
    sds = np.sqrt(np.diag(cov))
    return [*map(float, sds), sd_d1, float(mass)]


def make_crb(workers: int, npts: int) -> None:
    import scipy

    cells = [(float(a), float(b), npts) for a in CRB_ALPHAS for b in CRB_BETAS]
    with ProcessPoolExecutor(workers) as ex:
        rows = np.array(list(ex.map(_fisher_cell, cells)))
    rows = rows.reshape(len(CRB_ALPHAS), len(CRB_BETAS), 6)
    print("pdf mass range:", rows[..., 5].min(), rows[..., 5].max())
    save(
        PKG / "crb_table.npz",
        "sqrt(n) x Cramer-Rao sd of (alpha, beta, scale, loc_S0, loc_S1) for the standard law,\n"
        f"all four parameters unknown; made by tools/make_stable_tables.py crb ({npts} points,\n"
        f"scipy {scipy.__version__}'s pdf without its rounding of x to zeta; see the generator).",
        ALPHAS=CRB_ALPHAS,
        BETAS=CRB_BETAS,
        COLUMNS=np.array(["alpha", "beta", "scale", "loc_S0", "loc_S1"]),
        SQRT_N_SD=rows[..., :5],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table", choices=["quantiles", "crb"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--points", type=int, default=401, help="sinh-grid points for the CRB")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.table == "quantiles":
        make_quantiles(a.workers)
    else:
        make_crb(a.workers, a.points)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

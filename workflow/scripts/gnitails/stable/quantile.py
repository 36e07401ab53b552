"""McCulloch's (1986) quantile estimator, without the table-interpolation bias.

McCulloch's statistics are location/scale free functions of the 5/25/50/75/95% quantiles,

    nu_alpha = (q95 - q05) / (q75 - q25),   nu_beta = (q95 + q05 - 2 q50) / (q95 - q05).

Classically they are inverted with coarse tables of alpha(nu_alpha, nu_beta) and linear
interpolation; scipy's ``_fitstart`` does that and keeps a bias of up to 0.05 in beta at any n.
We tabulate the *forward* quantile functions of the standard S0 law on a fine (alpha, beta)
grid (``quantile_table.npz``, computed from scipy's cdf by ``tools/make_stable_tables.py``),
interpolate them with bicubic splines, and solve the two equations numerically, so the only
error left is the sampling error of the quantiles. Scale and S0 location follow from
q75 - q25 and q50 in the same way. Valid for 0.5 <= alpha <= 2 (the table's range).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._tables import load

_qt = load("quantile_table")

PROBS = tuple(float(p) for p in _qt["PROBS"])
NU_ALPHA_GAUSS = float(
    (_qt["QUANTILES"][-1, 0, 4] - _qt["QUANTILES"][-1, 0, 0])
    / (_qt["QUANTILES"][-1, 0, 3] - _qt["QUANTILES"][-1, 0, 1])
)


@lru_cache(maxsize=1)
def _splines():
    from scipy.interpolate import RectBivariateSpline

    q = _qt["QUANTILES"]
    a, b = _qt["ALPHAS"], _qt["BETAS"]
    iqr = q[..., 3] - q[..., 1]
    funcs = {
        "nu_alpha": (q[..., 4] - q[..., 0]) / iqr,
        "nu_beta": (q[..., 4] + q[..., 0] - 2 * q[..., 2]) / (q[..., 4] - q[..., 0]),
        "iqr": iqr,
        "median": q[..., 2],
    }
    return {k: RectBivariateSpline(a, b, v, kx=3, ky=3) for k, v in funcs.items()}


def standard_quantile_stats(alpha: float, beta: float) -> dict[str, float]:
    """nu_alpha, nu_beta, IQR and median of the standard S0 law (beta of either sign)."""
    sp = _splines()
    s = 1.0 if beta >= 0 else -1.0
    out = {k: float(f(alpha, abs(beta))[0, 0]) for k, f in sp.items()}
    out["nu_beta"] *= s
    out["median"] *= s
    return out


@dataclass(frozen=True)
class QuantileFit:
    alpha: float
    beta: float
    scale: float
    loc0: float
    at_boundary: bool  # nu_alpha outside the table: alpha clipped to 0.5 or 2


def mcculloch(x: np.ndarray) -> QuantileFit:
    """McCulloch estimate from exact sample quantiles (one ``np.quantile`` selection)."""
    from scipy.optimize import least_squares

    q05, q25, q50, q75, q95 = np.quantile(x, PROBS)
    iqr = q75 - q25
    if not iqr > 0 or not q95 > q05:
        raise ValueError("quantile method: sample quantiles coincide (lattice-like data?)")
    nu_a = (q95 - q05) / iqr
    nu_b = (q95 + q05 - 2 * q50) / (q95 - q05)
    sp = _splines()
    a_lo, a_hi = float(_qt["ALPHAS"][0]), float(_qt["ALPHAS"][-1])
    boundary = False
    if nu_a <= NU_ALPHA_GAUSS:  # no heavier than Gaussian: alpha = 2, beta not identifiable
        alpha, beta, boundary = 2.0, 0.0, nu_a < NU_ALPHA_GAUSS
    else:
        nu_max = float(sp["nu_alpha"](a_lo, min(abs(nu_b), 1.0))[0, 0])
        if nu_a >= nu_max:
            boundary = True

        def resid(p):
            return [
                sp["nu_alpha"](p[0], p[1])[0, 0] - nu_a,
                sp["nu_beta"](p[0], p[1])[0, 0] - abs(nu_b),
            ]

        # Start from the alpha that matches nu_alpha at beta = 0 (1-D bisection on a grid).
        grid = np.linspace(a_lo, a_hi, 301)
        g = sp["nu_alpha"](grid, 0.0)[:, 0]
        a0 = float(np.clip(grid[np.argmin(np.abs(g - nu_a))], a_lo + 1e-3, a_hi - 1e-3))
        sol = least_squares(resid, [a0, 0.5], bounds=([a_lo, 0.0], [a_hi, 1.0]), xtol=1e-12)
        alpha, beta = float(sol.x[0]), float(np.copysign(sol.x[1], nu_b))
    st = standard_quantile_stats(alpha, beta)
    scale = iqr / st["iqr"]
    loc0 = q50 - scale * st["median"]
    return QuantileFit(alpha, beta, float(scale), float(loc0), boundary)

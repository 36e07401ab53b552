"""Cramer-Rao bound for (alpha, beta, scale, loc), all four unknown, i.i.d. stable samples.

Looked up (bilinear in alpha and |beta|) in ``crb_table.npz``, which
``tools/make_stable_tables.py crb`` computes by numerically integrating the Fisher information
of scipy's pdf. The table holds sqrt(n) x sd for the standard law; sd scales with ``scale`` for
the scale and location. Above the table (alpha > 1.98, |beta| > 0.9) the nearest edge value is
used; beta is not identifiable as alpha -> 2, so its bound grows without limit there and the
edge value is optimistic.

Accuracy: the first table was up to 1.6% optimistic (3% for loc_S1) in scattered cells, e.g.
1.489 and 2.672 for alpha and beta at (1.5, 0.5) instead of 1.503 and 2.695: scipy's pdf is
flat within 0.0066 of x0 = zeta (its rounding there), and finite differences across the edges
of that window added spurious information. The generator now works around it; two cells are
checked against an independent Gauss-Legendre quadrature to 0.2% (tests/test_stable_edges.py).

Below alpha = 1.1 the bound is *not available* (NaN): the table's rows for alpha < 1 are still
not self-consistent after that fix (20-40% jumps between neighbouring cells, pdf mass off by
up to 0.2%), which points at scipy's pdf or the quadrature for peaked alpha < 1 densities. They
are kept in the table for inspection but not used.
"""

from __future__ import annotations

import numpy as np

from ._tables import load
from .params import check_parametrization, check_params


def _interp(alpha: float, beta: float) -> dict[str, float]:
    tab = load("crb_table")  # read on first use

    a, b = tab["ALPHAS"], tab["BETAS"]
    x = float(np.clip(alpha, a[0], a[-1]))
    y = float(np.clip(abs(beta), b[0], b[-1]))
    i = int(np.clip(np.searchsorted(a, x) - 1, 0, a.size - 2))
    j = int(np.clip(np.searchsorted(b, y) - 1, 0, b.size - 2))
    tx = (x - a[i]) / (a[i + 1] - a[i])
    ty = (y - b[j]) / (b[j + 1] - b[j])
    v = tab["SQRT_N_SD"]
    row = (
        (1 - tx) * (1 - ty) * v[i, j]
        + tx * (1 - ty) * v[i + 1, j]
        + (1 - tx) * ty * v[i, j + 1]
        + tx * ty * v[i + 1, j + 1]
    )
    return dict(zip((str(c) for c in tab["COLUMNS"]), row, strict=True))


MIN_ALPHA = 1.1  # below this the table is not trusted (see module docstring)


def crb_sd(
    alpha: float, beta: float, scale: float = 1.0, n: int = 1, parametrization: str = "S1"
) -> dict[str, float]:
    """Cramer-Rao standard deviations {alpha, beta, scale, loc} for n i.i.d. points.

    ValueError naming the argument for alpha outside (0, 2], |beta| > 1, scale <= 0, n < 1 or
    NaN; NaN results (not an error) for 0 < alpha < 1.1, where the bound is not tabled.
    """
    p = check_parametrization(parametrization)
    check_params(alpha, beta, scale)
    if not (np.isscalar(n) and np.isreal(n) and n >= 1):  # NaN fails n >= 1
        raise ValueError(f"n must be a number of points >= 1, got {n!r}")
    if not alpha >= MIN_ALPHA:
        return dict.fromkeys(("alpha", "beta", "scale", "loc"), float("nan"))
    row = _interp(alpha, beta)
    r = 1.0 / np.sqrt(n)
    return {
        "alpha": row["alpha"] * r,
        "beta": row["beta"] * r,
        "scale": row["scale"] * scale * r,
        "loc": row["loc_S0" if p == "S0" else "loc_S1"] * scale * r,
    }

"""Parametrisations of the alpha-stable law and exact conversion between them.

Two of Nolan's parametrisations are supported; alpha, beta and the scale gamma are the same in
both, only the location differs.

* ``"S1"`` (default in this package): Samorodnitsky-Taqqu S_alpha(gamma, beta, delta1),
  ``log phi(t) = -gamma^a |t|^a [1 - i beta sign(t) tan(pi a / 2)] + i delta1 t`` (a != 1) and
  ``-gamma |t| [1 + i beta (2/pi) sign(t) log|t|] + i delta1 t`` (a = 1).
  For a > 1 the mean is delta1; with delta1 = 0 the law is strictly stable (a != 1).
* ``"S0"`` (Nolan): ``log phi(t) = -gamma^a |t|^a [1 + i beta sign(t) tan(pi a/2)
  (|gamma t|^(1-a) - 1)] + i delta0 t``, continuous in all four parameters and a true
  location-scale family. The mode is near delta0.

Conversion: ``delta0 = delta1 + beta gamma tan(pi a/2)`` (a != 1) and
``delta0 = delta1 + (2/pi) beta gamma log(gamma)`` (a = 1). The beta sign is scipy's: beta > 0
means a heavier right tail. At a = 2 the law is N(delta, 2 gamma^2) in both.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Parametrization = Literal["S0", "S1"]
PARAMETRIZATIONS: tuple[str, ...] = ("S0", "S1")


def check_parametrization(p: str) -> Parametrization:
    """Normalise ``p`` ('s0', 'S1', ...) or raise ValueError naming the bad value."""
    q = str(p).upper()
    if q not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization must be 'S0' or 'S1', got {p!r}")
    return q  # type: ignore[return-value]


def check_params(alpha, beta, scale) -> None:
    """Raise ValueError unless 0 < alpha <= 2, -1 <= beta <= 1 and scale > 0 (all finite)."""
    a, b, s = (np.asarray(v, dtype=float) for v in (alpha, beta, scale))
    if not (np.all(np.isfinite(a)) and np.all((a > 0) & (a <= 2))):
        raise ValueError(f"alpha must lie in (0, 2], got {alpha!r}")
    if not (np.all(np.isfinite(b)) and np.all(np.abs(b) <= 1)):
        raise ValueError(f"beta must lie in [-1, 1], got {beta!r}")
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")


def _shift(alpha, beta, scale):
    """delta0 - delta1 for the given parameters (array-aware, exact at alpha = 1)."""
    a = np.asarray(alpha, dtype=float)
    b = np.asarray(beta, dtype=float)
    g = np.asarray(scale, dtype=float)
    one = a == 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.tan(np.pi * np.where(one, 0.5, a) / 2)
        out = np.where(one, (2 / np.pi) * b * g * np.log(g), b * g * t)
    return out[()] if out.ndim == 0 else out


def _checked_loc(alpha, beta, scale, loc) -> np.ndarray:
    """``loc`` as a float array, after checking every parameter (ValueError naming it)."""
    check_params(alpha, beta, scale)
    d = np.asarray(loc, dtype=float)
    if not np.all(np.isfinite(d)):
        raise ValueError(f"loc must be finite, got {loc!r}")
    return d


def to_s0(alpha, beta, scale, loc):
    """S0 location delta0 of the law whose S1 location is ``loc`` (broadcasts)."""
    return _checked_loc(alpha, beta, scale, loc) + _shift(alpha, beta, scale)


def to_s1(alpha, beta, scale, loc):
    """S1 location delta1 of the law whose S0 location is ``loc`` (broadcasts)."""
    return _checked_loc(alpha, beta, scale, loc) - _shift(alpha, beta, scale)


def convert_loc(alpha, beta, scale, loc, src: str, dst: str):
    """Location in parametrisation ``dst`` of a law given with location ``loc`` in ``src``."""
    src, dst = check_parametrization(src), check_parametrization(dst)
    if src == dst:
        return _checked_loc(alpha, beta, scale, loc)[()]
    return to_s0(alpha, beta, scale, loc) if dst == "S0" else to_s1(alpha, beta, scale, loc)


def s0_phase(alpha: float, t):
    """``tan(pi a/2) (t^a - t)`` for t > 0, with its a -> 1 limit ``-(2/pi) t log t``.

    This is the beta-coefficient of the S0 phase, ``arg phi(t) = delta0 t + beta s0_phase(a,
    gamma t)``; written via expm1 so it stays accurate (not just finite) near alpha = 1.
    """
    t = np.asarray(t, dtype=float)
    lt = np.log(t)
    d = alpha - 1.0
    if abs(d) < 1e-9:
        return -(2 / np.pi) * t * lt
    # tan(pi a/2) = -1 / tan(pi (a-1)/2); t^a - t = t expm1((a-1) log t)
    return -t * np.expm1(d * lt) / np.tan(np.pi * d / 2)


def log_cf(t, alpha, beta=0.0, scale=1.0, loc=0.0, parametrization: str = "S1"):
    """Log characteristic function ``log E exp(i t X)`` of the stable law (complex array)."""
    p = check_parametrization(parametrization)
    check_params(alpha, beta, scale)
    loc0 = loc if p == "S0" else to_s0(alpha, beta, scale, loc)
    return log_cf_s0(t, alpha, beta, scale, loc0)


def log_cf_s0(t, alpha, beta, scale, loc0):
    """``log_cf`` in S0 without checking the parameters (for the fits' inner loops)."""
    t = np.asarray(t, dtype=float)
    at = np.abs(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        phase = np.where(at > 0, beta * s0_phase(alpha, np.where(at > 0, scale * at, 1.0)), 0.0)
    return -((scale * at) ** alpha) + 1j * (np.sign(t) * phase + loc0 * t)

"""Input checks shared by the SDE engine, the closed forms and the study (clear errors, no NaNs)."""

from __future__ import annotations

import math


class SimulationDiverged(RuntimeError):
    """The Euler iterates left every finite bound (the step is too large for the drift)."""


def _real(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x


def check_alpha(alpha) -> float:
    a = _real("alpha", alpha)
    if not 1 < a <= 2:
        raise ValueError(
            f"alpha must lie in (1, 2], got {alpha!r}: the bias study needs a finite noise mean"
        )
    return a


def check_beta(beta) -> float:
    b = _real("beta", beta)
    if not -1 <= b <= 1:
        raise ValueError(f"beta must lie in [-1, 1], got {beta!r}")
    return b


def check_positive(name: str, value) -> float:
    x = _real(name, value)
    if x <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return x


def check_noise(alpha, beta, sigma, step) -> tuple[float, float, float, float]:
    """(alpha, beta, sigma, step) as floats, or ValueError naming the bad one."""
    return (
        check_alpha(alpha),
        check_beta(beta),
        check_positive("sigma", sigma),
        check_positive("step", step),
    )


def check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)

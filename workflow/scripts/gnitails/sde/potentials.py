"""Potentials f for dW = -grad f(W) dt + sigma dL: value, gradient, minimiser, implicit step.

Every potential is a sum over coordinates (the noise coordinates are independent too), so
``value``, ``grad`` and ``prox`` act on states of shape (n_particles, dim) with plain array
operators and work on numpy arrays and torch tensors alike.

* ``Quadratic``: f = sum_i theta_i (w_i - c_i)^2 / 2, the OU process (dim 1) or an
  anisotropic d-dimensional quadratic. Its drift is affine, so one Euler step is
  w <- (1 - h theta) w + h theta c (``euler_affine``), the form the engine evaluates fastest.
* ``Quartic``: f = sum_i (w_i - c_i)^4 / 4 + kappa (w_i - c_i)^2 / 2.
* ``DoubleWell``: f = sum_i w_i^4/4 - w_i^2/2 + tilt w_i; tilt != 0 makes the wells unequal.
* ``CustomPotential``: user functions, loaded from config as ``module:callable``.

Explicit Euler is unstable once h f''(w) > 2; heavy-tailed jumps reach that region for the
super-linear gradients of the last two, so they offer ``prox(y, h)``: the solution w of
w + h grad f(w) = y (drift-implicit Euler), here a monotone cubic solved in closed form.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

import numpy as np

from .validate import check_count

KINDS = ("quadratic", "quartic", "double_well", "custom")


def _cbrt(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np.cbrt(x)
    return x.sign() * x.abs() ** (1 / 3)  # torch


def _where(cond, a, b):
    if isinstance(cond, np.ndarray):
        return np.where(cond, a, b)
    import torch

    return torch.where(cond, a, b)


def solve_depressed_cubic(p, q):
    """The real root t of t^3 + p t + q = 0 for p > 0 (unique), without cancellation."""
    r = (q * q / 4 + p**3 / 27) ** 0.5
    # the larger-magnitude Cardano term first; the other is -p / (3 u)
    u = _where(q >= 0, -_cbrt(q / 2 + r), _cbrt(-q / 2 + r))
    return u - p / (3 * u)


def _vector(name: str, value, dim: int | None) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite number or list of numbers, got {value!r}")
    if dim is not None and arr.size == 1:
        arr = np.full(dim, arr[0])
    if dim is not None and arr.size != dim:
        raise ValueError(f"{name} has {arr.size} entries but the potential has dim {dim}")
    return arr


class Potential:
    """Base class: subclasses set ``name``, ``dim``, ``minimizer`` and ``f_min``."""

    name = "potential"
    dim = 1
    minimizer: np.ndarray
    f_min = 0.0
    is_quadratic = False

    def value(self, w):
        raise NotImplementedError

    def grad(self, w):
        raise NotImplementedError

    def prox(self, y, h):
        """w with w + h grad f(w) = y (one drift-implicit Euler step)."""
        raise NotImplementedError(f"{self.name} has no implicit step; use scheme='euler'")

    def euler_affine(self, h):
        """(a, c) with w - h grad f(w) = a w + c, when the drift is affine; else None."""
        return None

    def check_step(self, h: float) -> None:
        """Raise ValueError if explicit Euler with step h is unstable everywhere."""

    def describe(self) -> str:
        return self.name


class Quadratic(Potential):
    """f = sum_i theta_i (w_i - c_i)^2 / 2 (theta = curvature > 0, c = center)."""

    is_quadratic = True

    def __init__(self, curvature=1.0, center=0.0, dim: int | None = None):
        size = max(np.size(curvature), np.size(center)) if dim is None else dim
        self.dim = check_count("dim", size)
        self.curvature = _vector("curvature", curvature, self.dim)
        if np.any(self.curvature <= 0):
            raise ValueError(f"curvature must be positive, got {curvature!r}")
        self.minimizer = _vector("center", center, self.dim)
        self.name = "quadratic" if self.dim > 1 else "ou"

    def value(self, w):
        d = w - self.minimizer
        return (0.5 * self.curvature * d * d).sum(-1)

    def grad(self, w):
        return self.curvature * (w - self.minimizer)

    def prox(self, y, h):
        return (y + h * self.curvature * self.minimizer) / (1 + h * self.curvature)

    def euler_affine(self, h):
        return 1 - h * self.curvature, h * self.curvature * self.minimizer

    def check_step(self, h):
        worst = float(h * self.curvature.max())
        if worst >= 2:
            raise ValueError(
                f"step {h} is unstable for curvature {self.curvature.max()}: explicit Euler on a "
                f"quadratic needs step * curvature < 2 (got {worst:.3g})"
            )

    def describe(self):
        th = ",".join(f"{t:g}" for t in self.curvature)
        return f"{self.name}(theta=[{th}])"


class Quartic(Potential):
    """f = sum_i (w_i - c_i)^4 / 4 + kappa (w_i - c_i)^2 / 2, kappa >= 0."""

    name = "quartic"

    def __init__(self, kappa=1.0, center=0.0, dim: int | None = None):
        self.dim = check_count("dim", np.size(center) if dim is None else dim)
        self.kappa = float(kappa)
        if not np.isfinite(self.kappa) or self.kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {kappa!r}")
        self.minimizer = _vector("center", center, self.dim)

    def value(self, w):
        d = w - self.minimizer
        d2 = d * d
        return (d2 * d2 / 4 + self.kappa * d2 / 2).sum(-1)

    def grad(self, w):
        d = w - self.minimizer
        return d * d * d + self.kappa * d

    def prox(self, y, h):
        # d + h (d^3 + kappa d) = y - c  <=>  d^3 + ((1 + h kappa)/h) d - (y - c)/h = 0
        p = (1 + h * self.kappa) / h
        return self.minimizer + solve_depressed_cubic(p, -(y - self.minimizer) / h)

    def describe(self):
        return f"quartic(kappa={self.kappa:g})"


class DoubleWell(Potential):
    """f = sum_i w_i^4/4 - w_i^2/2 + tilt w_i: wells near -1 and +1, the deeper against tilt."""

    name = "double_well"

    def __init__(self, tilt=0.0, dim: int = 1):
        self.dim = check_count("dim", dim)
        self.tilt = float(tilt)
        if not np.isfinite(self.tilt):
            raise ValueError(f"tilt must be finite, got {tilt!r}")
        roots = np.roots([1.0, 0.0, -1.0, self.tilt])
        real = roots[np.abs(roots.imag) < 1e-9].real
        best = real[np.argmin(real**4 / 4 - real**2 / 2 + self.tilt * real)]
        self.minimizer = np.full(self.dim, best)
        self.f_min = float(self.value(self.minimizer[None])[0])

    def value(self, w):
        w2 = w * w
        return (w2 * w2 / 4 - w2 / 2 + self.tilt * w).sum(-1)

    def grad(self, w):
        return w * w * w - w + self.tilt

    def prox(self, y, h):
        if h >= 1:
            raise ValueError(f"the implicit step of the double well needs step < 1, got {h}")
        # w + h (w^3 - w + tilt) = y  <=>  w^3 + ((1 - h)/h) w + (h tilt - y)/h = 0
        return solve_depressed_cubic((1 - h) / h, (h * self.tilt - y) / h)

    def describe(self):
        return f"double_well(tilt={self.tilt:g})"


class CustomPotential(Potential):
    """Wraps user functions: value(w) -> (n,), grad(w) -> (n, dim) for states (n, dim)."""

    name = "custom"

    def __init__(
        self,
        value: Callable,
        grad: Callable,
        minimizer,
        f_min: float | None = None,
        prox: Callable | None = None,
        name: str = "custom",
    ):
        self._value, self._grad, self._prox = value, grad, prox
        self.minimizer = _vector("minimizer", minimizer, None)
        self.dim = self.minimizer.size
        self.name = name
        self.f_min = float(self._value(self.minimizer[None])[0]) if f_min is None else f_min

    def value(self, w):
        return self._value(w)

    def grad(self, w):
        return self._grad(w)

    def prox(self, y, h):
        if self._prox is None:
            return super().prox(y, h)
        return self._prox(y, h)


def load_custom(target: str, kwargs: Mapping | None = None) -> Potential:
    """Import ``module:callable`` and call it with ``kwargs``; it must return a Potential."""
    module, sep, attr = str(target).partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"a custom potential target looks like 'module:callable', got {target!r}")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load custom potential {target!r}: {exc}") from exc
    pot = factory(**dict(kwargs or {}))
    if not isinstance(pot, Potential):
        raise TypeError(f"{target} returned {type(pot).__name__}, expected a Potential")
    return pot


def make_potential(spec: Mapping) -> Potential:
    """A potential from its config block, e.g. ``{kind: quadratic, curvature: [1, 10]}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"potential.kind must be one of {KINDS}, got {kind!r}")
    allowed = {
        "quadratic": {"curvature", "center", "dim"},
        "quartic": {"kappa", "center", "dim"},
        "double_well": {"tilt", "dim"},
        "custom": {"target", "kwargs"},
    }[kind]
    extra = set(spec) - allowed
    if extra:
        raise ValueError(f"unknown key(s) for a {kind} potential: {sorted(extra)}")
    if kind == "quadratic":
        return Quadratic(**spec)
    if kind == "quartic":
        return Quartic(**spec)
    if kind == "double_well":
        return DoubleWell(**spec)
    if "target" not in spec:
        raise ValueError("a custom potential needs target: 'module:callable'")
    return load_custom(spec["target"], spec.get("kwargs"))


__all__ = [
    "KINDS",
    "CustomPotential",
    "DoubleWell",
    "Potential",
    "Quadratic",
    "Quartic",
    "load_custom",
    "make_potential",
    "solve_depressed_cubic",
]

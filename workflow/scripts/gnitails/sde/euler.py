"""Euler scheme for dW = -grad f(W) dt + sigma dL^(alpha, beta), many particles in parallel.

    explicit ("euler"):   W_{k+1} = W_k - h grad f(W_k) + sigma dL_k
    drift-implicit:       W_{k+1} = W_k - h grad f(W_{k+1}) + sigma dL_k   (``potential.prox``)

The noise comes in blocks of steps (``LevyIncrements``), at most ``block_bytes`` at a time, so
memory stays bounded whatever ``n_steps``. Between blocks the state is checked: non-finite or
huge iterates raise ``SimulationDiverged`` instead of returning NaNs. The state is float64;
the noise is float32 by default (see noise.py for why its tails are still resolved to 2^-54).
On numpy, the update of a block runs on ``threads`` particle slices in parallel; it is
elementwise per particle, so the result does not depend on the thread count.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .noise import INCREMENTS, LevyIncrements, drift_per_time
from .potentials import Potential
from .validate import SimulationDiverged, check_count, check_noise

SCHEMES = ("euler", "implicit")


@dataclass
class Simulation:
    """Final particle states (n_particles, dim) and the settings that produced them."""

    states: np.ndarray
    alpha: float
    beta: float
    sigma: float
    step: float
    n_steps: int
    increments: str
    scheme: str
    potential: Potential
    info: dict = field(default_factory=dict)

    @property
    def noise_drift(self) -> float:
        """Mean of sigma dL per unit time (0 for S1 increments)."""
        return drift_per_time(self.alpha, self.beta, self.sigma, self.step, self.increments)


def resolve_backend(backend: str) -> str:
    """ "numpy" or "torch"; "auto" means torch only when a CUDA device is present."""
    if backend == "auto":
        try:
            import torch
        except ImportError:
            return "numpy"
        return "torch" if torch.cuda.is_available() else "numpy"
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy', 'torch' or 'auto', got {backend!r}")
    return backend


def _flat_coefficient(x, shape):
    """A per-coordinate coefficient as a scalar (None if 0) or a full (n, dim) array: numpy
    broadcasting a (dim,) vector over (n, dim) runs an inner loop of length dim, ~10x slower."""
    x = np.asarray(x, dtype=np.float64)
    if np.all(x == x.flat[0]):
        return None if x.flat[0] == 0 else float(x.flat[0])
    return np.ascontiguousarray(np.broadcast_to(x, shape))


def _check_scheme(potential: Potential, scheme: str, step: float) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "euler":
        potential.check_step(step)
    else:  # fail now, not after the first block
        potential.prox(np.asarray(potential.minimizer, dtype=float)[None], step)


def _torch_twin(potential: Potential, device):
    """A shallow copy whose float arrays are float64 tensors on ``device``."""
    import torch

    twin = copy.copy(potential)
    for k, v in vars(potential).items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            setattr(twin, k, torch.as_tensor(v, dtype=torch.float64, device=device))
    return twin


def _advance(w, noise, potential, step, scheme, affine):
    """Apply ``len(noise)`` steps to ``w`` in place (numpy or torch)."""
    is_np = isinstance(w, np.ndarray)
    for e in noise:
        if scheme == "implicit":
            w += e
            w[...] = potential.prox(w, step)
        elif affine is not None:
            a, c = affine  # w - h grad f(w) = a w + c
            if is_np:
                if a is not None:
                    np.multiply(w, a, out=w)
                np.add(w, e, out=w)
            else:
                if a is not None:
                    w.mul_(a)
                w.add_(e)
            if c is not None:
                w += c
        else:
            g = potential.grad(w)
            g *= step
            w -= g
            w += e


def _n_diverged(w) -> int:
    """Particles with a non-finite or absurd (> 1e150) coordinate: NaN is never returned."""
    if isinstance(w, np.ndarray):
        return int((~(np.abs(w) <= 1e150)).any(axis=-1).sum())  # NaN compares False
    return int((~(w.abs() <= 1e150)).any(dim=-1).sum())


def simulate(
    potential: Potential,
    alpha: float,
    beta: float,
    sigma: float,
    step: float,
    n_particles: int,
    n_steps: int,
    *,
    increments: str = "S1",
    scheme: str = "euler",
    w0=None,
    seed=0,
    dtype=np.float32,
    backend: str = "numpy",
    device: str | None = None,
    threads: int | None = None,
    block_bytes: int = 1 << 23,
) -> Simulation:
    """Run ``n_particles`` independent Euler chains for ``n_steps`` steps from ``w0``.

    ``w0`` defaults to the potential's minimiser; a scalar or (dim,) vector is broadcast.
    ``increments``: "S1" (canonical), "S0" (L_1 ~ S0(alpha, beta, 1, 0), exact shift) or
    "S0_per_step" (the shift dropped: SGD with injected S0 noise). Same seed, same settings,
    same backend: same numbers (numpy: whatever ``threads`` and ``block_bytes``).
    ``backend``: "numpy", "torch" (``device`` None picks CUDA when present) or "auto" (torch
    when CUDA is present, else numpy; the two draw different random numbers).
    """
    alpha, beta, sigma, step = check_noise(alpha, beta, sigma, step)
    n_particles = check_count("n_particles", n_particles)
    n_steps = check_count("n_steps", n_steps, minimum=0)
    if increments not in INCREMENTS:
        raise ValueError(f"increments must be one of {INCREMENTS}, got {increments!r}")
    _check_scheme(potential, scheme, step)
    backend = resolve_backend(backend)
    dim = potential.dim
    start = potential.minimizer if w0 is None else np.asarray(w0, dtype=float)
    w = np.array(np.broadcast_to(start, (n_particles, dim)), dtype=np.float64)
    shape = (n_particles, dim)
    itemsize = np.dtype(dtype).itemsize
    k_max = max(1, min(max(n_steps, 1), block_bytes // (n_particles * dim * itemsize)))
    affine = potential.euler_affine(step) if scheme == "euler" else None
    if affine is not None:
        affine = tuple(_flat_coefficient(x, w.shape) for x in affine)

    with LevyIncrements(
        alpha, beta, sigma, step, shape, increments=increments, seed=seed, dtype=dtype,
        backend=backend, device=device, threads=threads,
    ) as noise:  # fmt: skip
        if backend == "torch":
            w = _run_torch(w, noise, potential, step, scheme, affine, n_steps, k_max)
        else:
            w = _run_numpy(w, noise, potential, step, scheme, affine, n_steps, k_max, threads)
    return Simulation(
        w, alpha, beta, sigma, step, n_steps, increments, scheme, potential,
        info={"backend": backend, "noise_dtype": np.dtype(dtype).name, "block_steps": k_max},
    )  # fmt: skip


def _raise_diverged(w, potential, step, scheme, done):
    n_bad = _n_diverged(w)
    if n_bad:
        hint = (
            "use scheme 'implicit' or a smaller step"
            if scheme == "euler"
            else "check the potential's prox"
        )
        raise SimulationDiverged(
            f"{n_bad} of {len(w)} particles diverged (non-finite or |w| > 1e150) by step {done} "
            f"with {scheme} step {step} on {potential.describe()}: explicit Euler is unstable "
            f"where step * f''(w) > 2, which heavy-tailed jumps reach for super-linear "
            f"gradients; {hint}"
        )


def _run_numpy(w, noise, potential, step, scheme, affine, n_steps, k_max, threads):
    threads = max(1, threads or min(os.cpu_count() or 1, 8))
    edges = np.linspace(0, len(w), min(threads, len(w)) + 1).round().astype(int)
    slices = [slice(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    buf = np.empty((k_max, *w.shape), noise.dtype)
    pool = ThreadPoolExecutor(len(slices)) if len(slices) > 1 else None
    done = 0
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            while done < n_steps:
                k = min(k_max, n_steps - done)
                e = noise.block(k, buf[:k])

                def job(sl, e=e):
                    aff = affine and tuple(
                        x[sl] if isinstance(x, np.ndarray) else x for x in affine
                    )
                    with np.errstate(over="ignore", invalid="ignore"):  # per thread
                        _advance(w[sl], e[:, sl], potential, step, scheme, aff)

                if pool is None:
                    job(slices[0])
                else:
                    list(pool.map(job, slices))
                done += k
                _raise_diverged(w, potential, step, scheme, done)
    finally:
        if pool is not None:
            pool.shutdown()
    return w


def _run_torch(w, noise, potential, step, scheme, affine, n_steps, k_max):
    import torch

    dev = noise.device
    wt = torch.as_tensor(w, device=dev)
    pot = _torch_twin(potential, dev)
    if affine is not None:
        affine = tuple(
            x if x is None or np.isscalar(x) else torch.as_tensor(x, device=dev) for x in affine
        )
    done = 0
    while done < n_steps:
        k = min(k_max, n_steps - done)
        _advance(wt, noise.block(k), pot, step, scheme, affine)
        done += k
        _raise_diverged(wt, potential, step, scheme, done)
    return wt.cpu().numpy()


__all__ = ["SCHEMES", "Simulation", "simulate"]

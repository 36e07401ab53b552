"""Increments of an alpha-stable Levy motion for the Euler scheme, generated block by block.

The driving process L has L_1 ~ S(alpha, beta, 1, 0) in S1 (the canonical, strictly stable
model) or S0, so one Euler step of length h adds

    sigma * dL = sigma * (h^(1/alpha) Z + mu * h),   Z ~ S1(alpha, beta, 1, 0) standard,

with mu the S1 location of L_1: 0 for S1, -zeta = -beta tan(pi alpha/2) for S0 (this is the
exact per-step shift S0 needs: L_h ~ S0(alpha, beta, h^(1/alpha), 0) would drop it and add a
drift that diverges like h^(1/alpha - 1)). ``"S0_per_step"`` is that dropped-shift variant on
purpose: every step adds h^(1/alpha) S0(alpha, beta, 1, 0), which is what SGD with injected
location-0 S0 noise (the authors' code) does.

Speed and exactness: the Chambers-Mallows-Stuck kernel is ``gnitails.stable.cms`` (shared with
``gnitails.stable.sample``), evaluated in float32 with in-place numpy ufuncs (SIMD
transcendentals). It draws V as its distance to the nearer end of (-pi/2, pi/2) at full
floating precision, so the heavy tails are not cut off: a float32 grid for V made E Z = -0.13
instead of 0 at alpha = 1.2, beta = 1, and even a float64 grid leaves -0.20 at alpha = 1.1.

Determinism: particles are split into ``n_streams`` fixed slices (a function of the particle
count only), each with its own generator spawned from the seed and consumed in step order. The
numbers a particle sees are therefore the same whatever the thread count and block length.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..stable.cms import Streams, Workspace, cms_law, s1_numpy, s1_torch
from .validate import check_noise

INCREMENTS = ("S1", "S0", "S0_per_step")
STREAM_VALUES = 2048  # values per step per stream: ~10 streams for 1e4 x 2, enough to balance
MAX_STREAMS = 64
JOB_VALUES = 1 << 16  # values per kernel call: amortises ~25 ufunc calls, scratch fits in L2


def zeta(alpha: float, beta: float) -> float:
    """beta tan(pi alpha/2), the S1 -> S0 location shift of a standard law (0 at alpha = 2)."""
    return 0.0 if alpha == 2.0 else float(beta * math.tan(math.pi * alpha / 2))


def increment_affine(alpha, beta, sigma, step, increments="S1"):
    """(mult, add): one step's increment is ``mult * Z + add`` with Z standard S1."""
    alpha, beta, sigma, step = check_noise(alpha, beta, sigma, step)
    if increments not in INCREMENTS:
        raise ValueError(f"increments must be one of {INCREMENTS}, got {increments!r}")
    mult = sigma * step ** (1 / alpha)
    z = zeta(alpha, beta)
    if increments == "S1":
        add = 0.0
    elif increments == "S0":
        add = -sigma * z * step  # L_1 ~ S0(alpha, beta, 1, 0) has S1 location -zeta
    else:
        add = -mult * z  # each step an S0 location-0 variate
    return mult, add


def drift_per_time(alpha, beta, sigma, step, increments="S1") -> float:
    """Mean of the noise per unit time, E[sigma dL]/h: the stationary E grad f(W) (alpha > 1)."""
    return increment_affine(alpha, beta, sigma, step, increments)[1] / step


def n_streams(n_values_per_step: int) -> int:
    """Generator streams for a state of this many values (fixed: results do not depend on it)."""
    return max(1, min(MAX_STREAMS, -(-n_values_per_step // STREAM_VALUES)))


class LevyIncrements:
    """Blocks of ``sigma * dL`` for an Euler step ``step``: ``block(k)`` -> array (k, *shape).

    ``shape`` is the state shape (n_particles, dim). Works on numpy (threads over streams) or
    torch (one generator; CUDA when present and ``device`` is None or "auto").
    """

    def __init__(
        self,
        alpha: float,
        beta: float,
        sigma: float,
        step: float,
        shape: tuple[int, ...],
        *,
        increments: str = "S1",
        seed=0,
        dtype=np.float32,
        backend: str = "numpy",
        device: str | None = None,
        threads: int | None = None,
    ):
        self.alpha, self.beta = float(alpha), float(beta)
        self.mult, self.add = increment_affine(alpha, beta, sigma, step, increments)
        self.law = cms_law(alpha, beta)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.backend = backend
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        if backend == "numpy":
            n = self.shape[0]
            per = math.prod(self.shape[1:])
            k = n_streams(n * per)
            edges = np.linspace(0, n, k + 1).round().astype(int)
            bounds = zip(edges[:-1], edges[1:], strict=True)
            self._slices = [slice(int(lo), int(hi)) for lo, hi in bounds]
            self._streams = [Streams.spawn(s) for s in seq.spawn(k)]
            self._ws = [Workspace(0, self.dtype) for _ in range(k)]
            self.threads = max(1, threads or min(os.cpu_count() or 1, 8))
            self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 and k > 1 else None
        elif backend == "torch":
            import torch

            self.device = torch.device(
                device
                if device not in (None, "auto")
                else ("cuda" if torch.cuda.is_available() else "cpu")
            )
            self._gen = torch.Generator(device=self.device)
            self._gen.manual_seed(int(seq.generate_state(1, np.uint64)[0] >> 1))
            self._tdtype = torch.float32 if self.dtype == np.float32 else torch.float64
        else:
            raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")

    def close(self):
        if self.backend == "numpy" and self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def block(self, k: int, out=None):
        """The next ``k`` steps' increments, shape (k, *shape); ``out`` is reused if given."""
        if self.backend == "torch":
            return self._block_torch(k)
        if out is None:
            out = np.empty((k, *self.shape), self.dtype)

        def job(j: int):
            sl = self._slices[j]
            per_step = (sl.stop - sl.start) * math.prod(self.shape[1:])
            ks = max(1, JOB_VALUES // per_step)  # sub-blocks of steps: scratch stays in L2
            for s in range(0, k, ks):
                dst = out[s : s + ks, sl]
                s1_numpy(self._streams[j], dst.size, self.law, self.mult, self.add, dst,
                         self._ws[j])  # fmt: skip

        jobs = range(len(self._slices))
        if self._pool is None:
            for j in jobs:
                job(j)
        else:
            list(self._pool.map(job, jobs))
        return out

    def _block_torch(self, k: int):
        n = k * math.prod(self.shape)
        z = s1_torch(self._gen, n, self.law, self.mult, self.add, self._tdtype, self.device)
        return z.reshape(k, *self.shape)

"""Chambers-Mallows-Stuck (CMS) sampler for the alpha-stable law, numpy and torch.

With V ~ U(-pi/2, pi/2) and W ~ Exp(1) independent, the standard S1 variate is (Weron 1996)

    a != 1:  Z1 = S sin(a (V + B)) / cos(V)^(1/a) * (cos(V - a (V + B)) / W)^((1 - a)/a),
             B = arctan(beta tan(pi a/2)) / a,  S = (1 + beta^2 tan^2(pi a/2))^(1/(2a)),
    a  = 1:  Z1 = (2/pi) [(pi/2 + beta V) tan V - beta log((pi/2) W cos V / (pi/2 + beta V))].

We return gamma * Z0 + delta0 with Z0 = Z1 - beta tan(pi a/2) the standard S0 variate (S0 is a
location-scale family), the location converted exactly from S1 when asked for S1. At a = 2 the
formula reduces to Box-Muller: 2 sqrt(W) sin V ~ N(0, 2).

NaN traps of the naive formula, and what we do:
* float32(pi/2) > pi/2, so cos(V) can come out as -4e-8 and its fractional power is NaN
  (about once in 1.7e7 float32 draws): we use |cos V|, floored at the smallest normal.
* W = 0 or cos(...) = 0 give log(0); both factors are combined in one exp(log ...) so the
  result is 0 or +-inf as the exact formula says, never 0 * inf.
* Near a = 1 with beta != 0 the S1 -> S0 shift cancels catastrophically; there float32 output
  is computed in float64 and rounded.

The numpy path works in fixed-size chunks, each with its own generator spawned from one
SeedSequence, spread over threads (numpy releases the GIL): output is identical for a given
seed whatever the thread count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .params import check_parametrization, check_params, to_s0

CHUNK = 1 << 15  # elements per chunk: temporaries stay in L2


def _constants(alpha: float, beta: float) -> tuple[float, float, float]:
    """(B, S, zeta) of the CMS formula; zeta = beta tan(pi a/2) is the S1 -> S0 shift."""
    if alpha == 1.0:
        return 0.0, 1.0, 0.0
    zeta = beta * np.tan(np.pi * alpha / 2)
    return float(np.arctan(zeta) / alpha), float((1 + zeta * zeta) ** (0.5 / alpha)), float(zeta)


def _cms_standard_s0(u, w, alpha: float, beta: float, xp=np):
    """Standard S0 variates from uniforms ``u`` in [0, 1) and exponentials ``w``, in place.

    Works for numpy arrays and torch tensors (``xp`` is the namespace); overwrites ``u`` and
    ``w`` and returns the array holding the result.
    """
    half_pi = np.pi / 2
    # u is on a grid k * eps/2; shifting by half a step makes V symmetric and never -pi/2.
    eps = (np.finfo(u.dtype) if xp is np else xp.finfo(u.dtype)).eps
    v = u
    v -= 0.5 - eps / 4
    v *= np.pi  # V in (-pi/2, pi/2)
    if alpha == 1.0:
        c = half_pi + beta * v  # > 0 for |beta| <= 1 except at the left end
        t = xp.tan(v)
        t *= c
        cv = xp.abs(xp.cos(v))
        cv *= w
        cv *= half_pi
        cv /= c
        cv = xp.log(cv)
        cv *= beta
        t -= cv
        t *= 2 / np.pi
        return t
    b, s, zeta = _constants(alpha, beta)
    tiny = np.finfo(np.float32).tiny
    av = v + b
    av *= alpha  # a (V + B)
    c2 = v - av
    c2 = xp.cos(c2)
    c2 = xp.abs(c2)
    c2 /= w  # cos(V - a(V+B)) / W
    c2 = xp.log(c2)
    c2 *= (1 - alpha) / alpha
    cv = xp.cos(v)
    cv = xp.abs(cv)
    cv = xp.clip(cv, tiny, None) if xp is np else cv.clamp_(min=tiny)
    cv = xp.log(cv)
    cv *= 1 / alpha
    c2 -= cv
    c2 = xp.exp(c2)
    sv = xp.sin(av)
    sv *= s
    sv *= c2
    if zeta:
        sv -= zeta  # Z1 has S0 location +zeta
    return sv


def _resolve_seed(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):  # deterministic given the generator's state
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    return np.random.SeedSequence(seed)


def _sample_numpy(alpha, beta, n, dtype, seed, threads):
    work = np.float64 if (dtype == np.float32 and beta != 0 and abs(alpha - 1) < 0.1) else dtype
    out = np.empty(n, dtype=dtype)
    nchunks = max(1, -(-n // CHUNK))
    children = _resolve_seed(seed).spawn(nchunks)

    def run(i: int) -> None:
        lo, hi = i * CHUNK, min(n, (i + 1) * CHUNK)
        rng = np.random.Generator(np.random.PCG64(children[i]))
        u = rng.random(hi - lo, dtype=work)
        w = rng.standard_exponential(hi - lo, dtype=work)
        with np.errstate(divide="ignore", over="ignore"):  # W = 0 is handled, see above
            out[lo:hi] = _cms_standard_s0(u, w, alpha, beta)

    threads = threads or min(os.cpu_count() or 1, 8)
    if threads == 1 or nchunks == 1:
        for i in range(nchunks):
            run(i)
    else:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(run, range(nchunks)))
    return out


def _sample_torch(alpha, beta, n, dtype, seed, device):
    import torch

    tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[dtype]
    dev = torch.device(
        device if device not in (None, "auto") else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    if isinstance(seed, torch.Generator):
        gen = seed
    else:
        gen = torch.Generator(device=dev)
        gen.manual_seed(int(_resolve_seed(seed).generate_state(1, np.uint64)[0] >> 1))
    work = (
        torch.float64
        if (tdtype == torch.float32 and beta != 0 and abs(alpha - 1) < 0.1)
        else tdtype
    )
    u = torch.rand(n, generator=gen, device=dev, dtype=work)
    w = torch.empty(n, device=dev, dtype=work).exponential_(generator=gen)
    return _cms_standard_s0(u, w, alpha, beta, xp=torch).to(tdtype)


def sample(
    alpha: float,
    beta: float = 0.0,
    scale: float = 1.0,
    loc: float = 0.0,
    size: int | tuple[int, ...] = 1,
    *,
    parametrization: str = "S1",
    dtype=np.float64,
    seed=None,
    backend: str = "numpy",
    device: str | None = None,
    threads: int | None = None,
):
    """Draw alpha-stable variates by Chambers-Mallows-Stuck.

    Parameters
    ----------
    alpha, beta, scale, loc : stability 0 < alpha <= 2, skewness -1 <= beta <= 1, scale > 0 and
        location, in ``parametrization`` ("S1", the default, or "S0"; see ``params``).
    size : output shape.
    dtype : float32 or float64.
    seed : int, None, ``np.random.SeedSequence`` or ``np.random.Generator``; for the torch
        backend also a ``torch.Generator``. Same seed, same backend and device: same numbers.
    backend : "numpy" (returns ndarray) or "torch" (returns a tensor on ``device``; "auto" or
        None picks CUDA when present).
    threads : numpy worker threads (default: all cores, at most 8); does not change the output.

    At alpha = 2 the draws are N(loc, 2 scale^2).
    """
    p = check_parametrization(parametrization)
    check_params(alpha, beta, scale)
    if not np.isfinite(loc):
        raise ValueError(f"loc must be finite, got {loc!r}")
    alpha, beta, scale, loc = float(alpha), float(beta), float(scale), float(loc)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    shape = (size,) if np.isscalar(size) else tuple(size)
    n = int(np.prod(shape))
    loc0 = float(loc if p == "S0" else to_s0(alpha, beta, scale, loc))
    if backend == "numpy":
        z = _sample_numpy(alpha, beta, n, dtype, seed, threads)
    elif backend == "torch":
        z = _sample_torch(alpha, beta, n, dtype, seed, device)
    else:
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if scale != 1.0:
        z *= scale
    if loc0 != 0.0:
        z += loc0
    return z.reshape(shape)


rvs = sample

"""alpha-stable variates by Chambers-Mallows-Stuck, numpy and torch, exact in the tails.

The formula and its evaluation live in ``cms.py`` (shared with the SDE engine): V is drawn as
its distance to the nearer end of (-pi/2, pi/2) at full floating precision, so the heavy tails
are not cut off by a uniform grid (a float32 grid made the S1 mean -1.15 instead of 0 at
alpha = 1.1, beta = 1). We return gamma (Z1 - zeta) + delta0, with Z1 the standard S1 variate
and Z1 - zeta the standard S0 one (S0 is a location-scale family); the location is converted
exactly from S1 when asked for S1. Near alpha = 1 with beta != 0 the S1 -> S0 shift zeta is
large and cancels, so float32 output is computed in float64 there and rounded.

The numpy path works in fixed-size chunks, each with its own generator spawned from one
SeedSequence, spread over threads (numpy releases the GIL): output is identical for a given
seed whatever the thread count.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .cms import Streams, Workspace, cms_law, s1_numpy, s1_torch
from .params import check_parametrization, check_params, to_s0

CHUNK = 1 << 15  # elements per chunk: temporaries stay in L2
MAX_OVERFLOW = 1e-4  # refuse a law that would put more than this share of draws at +-inf
_LOCAL = threading.local()  # one kernel workspace per thread


def overflow_share(alpha: float, scale: float, dtype) -> float:
    """Share of stable draws (any beta, location small) beyond ``dtype``'s largest number.

    P(|X| > x) = C_a (scale/x)^a far out, C_a = Gamma(a) sin(pi a/2) 2/pi (Samorodnitsky-
    Taqqu 1.2.15); we use 1 - exp(-C_a (scale/x)^a), also exact as a -> 0, where |X|^-a tends
    to Exp(1) (Cressie 1975). At a = 2 the law is N(0, 2 scale^2): erfc(x / (2 scale)).
    """
    big = float(np.finfo(dtype).max)
    c = math.gamma(alpha) * math.sin(math.pi * alpha / 2) * 2 / math.pi
    with np.errstate(over="ignore"):
        pareto = -math.expm1(-c * math.exp(alpha * (math.log(scale) - math.log(big))))
    return max(pareto, math.erfc(big / (2 * scale)) if scale * 1e3 > big else 0.0)


def check_overflow(alpha: float, scale: float, dtype, name: str = "alpha") -> None:
    """ValueError naming ``name`` when more than MAX_OVERFLOW of the draws would be +-inf."""
    share = overflow_share(alpha, scale, dtype)
    if share > MAX_OVERFLOW:
        big = np.finfo(dtype).max
        lo = math.log(MAX_OVERFLOW) / (math.log(scale) - math.log(big))  # c ~ 1 for small a
        raise ValueError(
            f"{name} = {alpha!r} is too small for {np.dtype(dtype).name} at scale {scale!r}: "
            f"about {share:.0%} of the draws would exceed {big:.3g} and come out as +-inf; use "
            f"{name} >= {lo:.3g}" + (" or float64" if np.dtype(dtype) == np.float32 else "")
        )


def _resolve_seed(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):  # deterministic given the generator's state
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    if isinstance(seed, np.random.RandomState):  # scipy's random_state may be one
        return np.random.SeedSequence(seed.randint(0, 2**62, size=4, dtype=np.int64).tolist())
    return np.random.SeedSequence(seed)


def _work_dtype(alpha, beta, dtype):
    """float64 arithmetic for float32 output near alpha = 1 (the shift zeta cancels there)."""
    near_one = beta != 0 and abs(alpha - 1) < 0.1
    return np.dtype(np.float64) if near_one else np.dtype(dtype)


def _sample_numpy(law, mult, add, n, dtype, seed, threads):
    work = _work_dtype(law.alpha, law.beta, dtype)
    out = np.empty(n, dtype=dtype)
    nchunks = max(1, -(-n // CHUNK))
    children = _resolve_seed(seed).spawn(nchunks)

    def run(i: int) -> None:
        lo, hi = i * CHUNK, min(n, (i + 1) * CHUNK)
        ws = getattr(_LOCAL, "ws", None)
        if ws is None or ws.dtype != work:
            ws = _LOCAL.ws = Workspace(CHUNK, work)
        streams = Streams(np.random.Generator(np.random.PCG64(children[i])))
        s1_numpy(streams, hi - lo, law, mult, add, out[lo:hi], ws)

    threads = threads or min(os.cpu_count() or 1, 8)
    if threads == 1 or nchunks == 1:
        for i in range(nchunks):
            run(i)
    else:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(run, range(nchunks)))
    return out


def _sample_torch(law, mult, add, n, dtype, seed, device):
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
    work = torch.float64 if _work_dtype(law.alpha, law.beta, dtype) == np.float64 else tdtype
    return s1_torch(gen, n, law, mult, add, work, dev).to(tdtype)


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
    seed : int, None, ``np.random.SeedSequence``, ``np.random.Generator`` or ``RandomState``;
        for the torch backend also a ``torch.Generator``. Same seed, same backend and device:
        same numbers.
    backend : "numpy" (returns ndarray) or "torch" (returns a tensor on ``device``; "auto" or
        None picks CUDA when present).
    threads : numpy worker threads (default: all cores, at most 8); does not change the output.

    At alpha = 2 the draws are N(loc, 2 scale^2). A law that would put more than 1e-4 of its
    draws beyond the dtype's range (alpha below about 0.1 in float32, 0.013 in float64, at
    scale 1) is refused with a ValueError naming alpha.
    """
    p = check_parametrization(parametrization)
    check_params(alpha, beta, scale)
    if not np.isfinite(loc):
        raise ValueError(f"loc must be finite, got {loc!r}")
    alpha, beta, scale, loc = float(alpha), float(beta), float(scale), float(loc)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    check_overflow(alpha, scale, dtype)
    shape = (size,) if np.isscalar(size) else tuple(size)
    n = int(np.prod(shape))
    law = cms_law(alpha, beta)
    loc0 = float(loc if p == "S0" else to_s0(alpha, beta, scale, loc))
    add = loc0 - scale * law.zeta  # gamma (Z1 - zeta) + delta0, Z1 standard S1
    if backend == "numpy":
        z = _sample_numpy(law, scale, add, n, dtype, seed, threads)
    elif backend == "torch":
        z = _sample_torch(law, scale, add, n, dtype, seed, device)
    else:
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    return z.reshape(shape)


def rvs(alpha, beta, loc=0.0, scale=1.0, size=None, random_state=None):
    """scipy's ``levy_stable.rvs(alpha, beta, loc, scale, size, random_state)``, by our sampler.

    Same argument order and names as scipy (location *before* scale, unlike ``sample``) and
    scipy's default parametrisation, S1. ``size=None`` returns one float; ``random_state`` is
    None, an int, a ``np.random.Generator`` or a ``RandomState``. The numbers differ from
    scipy's (another algorithm and stream), the law is the same.
    """
    x = sample(alpha, beta, scale, loc, 1 if size is None else size, seed=random_state)
    return x[0] if size is None else x

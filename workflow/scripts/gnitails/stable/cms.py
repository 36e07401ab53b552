"""Chambers-Mallows-Stuck (CMS) kernel for standard S1 stable variates, exact in the tails.

Shared by ``gnitails.stable.sample`` and the SDE engine (``gnitails.sde.noise``). With
V ~ U(-pi/2, pi/2) and W ~ Exp(1) independent, Z ~ S1(a, beta, 1, 0) is (Weron 1996)

    a != 1:  Z = S sin(a (V + B)) / cos(V)^(1/a) * (cos(V - a (V + B)) / W)^((1 - a)/a),
    a  = 1:  Z = (2/pi) [(pi/2 + beta V) tan V - beta log((pi/2) W cos V / (pi/2 + beta V))],

B = arctan(zeta)/a, S = (1 + zeta^2)^(1/(2a)), zeta = beta tan(pi a/2). At a = 2 this is
Box-Muller: 2 sqrt(W) sin V ~ N(0, 2).

Why "exact in the tails". The heavy tails come from V near +-pi/2 (cos V -> 0) and, for a <= 1,
from W near 0. Uniforms on a fixed grid cut them off: the missing part of the mean scales like
step^(1 - 1/a), so at (a, beta) = (1.1, 1) a float32 grid (2^-24) makes E Z = -1.15 instead of 0
and even a float64 grid leaves -0.20 (-0.006 at a = 1.2). Here nothing is cut off:

* V is drawn as (side, e), e = 1/2 - |U - 1/2| the distance of the uniform to the nearer end
  (exact in float64), and cos V = sin(pi e) keeps full relative precision however small e is;
* e below ``REFINE[8]`` = 2^-20 is redrawn from U(0, 2^-20) at full floating precision, and so
  on recursively (``refine``): e has the exact uniform law down to the smallest double;
* the same refinement makes W exact where the tail needs it: its large values for a > 1
  (W = -log U', U' refined near 0), its small values for a <= 1 (W = -log1p(-U), U refined);
* where both phases a(V + B) and V - a(V + B) vanish at an end (|beta| = 1, and a = 2), float32
  cancellation would put spurious large values on that light side; there (e < ``LIGHT_E``) Z is
  evaluated in float64 from (side, e) with the constant part of each phase reduced exactly.
  a = 1 is evaluated in float64 throughout.

The rest runs in the work dtype (float32 or float64) with in-place numpy ufuncs (SIMD
transcendentals), on scratch arrays that are reused, so a kernel call never allocates.
Measured numbers of the kernel and of the old grids: docs/stable.md, "Sampling".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REFINE = {4: 2.0**-14, 8: 2.0**-20}  # by itemsize: uniforms below this are redrawn finer
LIGHT_E = 2.0**-12  # a light end's e below this is evaluated in float64
SNAP = 1e-12  # a phase's sine or cosine this close to 0 is taken as exactly 0
HALF_STEP = 2.0**-54  # half the float64 uniform grid step: centres the grid on 1/2


@dataclass(frozen=True)
class CmsLaw:
    """Constants of the CMS formula for one (alpha, beta); index 0 is the side V -> +pi/2."""

    alpha: float
    beta: float
    b: float
    s: float
    zeta: float  # S1 -> S0 location shift of the standard law (0 at alpha = 1 and 2)
    sin_p: tuple[float, float]  # sin and cos of P = alpha (side pi/2 + B), the end of a(V+B)
    cos_p: tuple[float, float]
    sin_q: tuple[float, float]  # sin and cos of Q = side pi/2 - P, the end of V - a(V+B)
    cos_q: tuple[float, float]
    light: tuple[int, ...]  # sides (+1, -1) where both phases vanish

    @property
    def exact(self) -> bool:
        """True where the whole formula is evaluated in float64 (alpha = 1)."""
        return self.alpha == 1.0


def _snap(x: float) -> float:
    return 0.0 if abs(x) < SNAP else (math.copysign(1.0, x) if abs(x) > 1 - SNAP else x)


def cms_law(alpha: float, beta: float) -> CmsLaw:
    """The constants of the CMS formula for S1(alpha, beta, 1, 0)."""
    alpha, beta = float(alpha), float(beta)
    zeta = 0.0 if alpha in (1.0, 2.0) else beta * math.tan(math.pi * alpha / 2)
    b = math.atan(zeta) / alpha if alpha != 1.0 else 0.0
    s = (1 + zeta * zeta) ** (0.5 / alpha)
    sp, cp, sq, cq, light = [], [], [], [], []
    for side in (1, -1):
        p = alpha * (side * math.pi / 2 + b)
        q = side * math.pi / 2 - p
        sp.append(_snap(math.sin(p)))
        cp.append(_snap(math.cos(p)))
        sq.append(_snap(math.sin(q)))
        cq.append(_snap(math.cos(q)))
        if alpha != 1.0 and sp[-1] == 0.0 and cq[-1] == 0.0:
            light.append(side)
    return CmsLaw(alpha, beta, b, s, zeta, (sp[0], sp[1]), (cp[0], cp[1]), (sq[0], sq[1]),
                  (cq[0], cq[1]), tuple(light))  # fmt: skip


# ------------------------------------------------------------------ formulas on (side, e, W)


def z_from_ends(law: CmsLaw, side, e, w, xp=np):
    """Z in float64 from the side (+-1) of V, its distance e (V = side (pi/2 - pi e)) and W.

    Every phase is written as its (exact) value at the end plus a term in e, so the result
    keeps full relative precision for any e > 0; ``xp`` is numpy or torch.
    """
    pi = math.pi
    if law.alpha == 1.0:
        beta = law.beta
        c = (pi / 2) * (1 + beta * side) - beta * side * pi * e  # pi/2 + beta V, exact at the ends
        cos_v = xp.sin(pi * e)
        tan_v = side * xp.cos(pi * e) / cos_v
        return (2 / pi) * (c * tan_v - beta * xp.log((pi / 2) * w * cos_v / c))
    a = law.alpha

    def pick(pair):
        if isinstance(side, float):
            return pair[0] if side > 0 else pair[1]
        return xp.where(side > 0, pair[0], pair[1])

    x = a * pi * e  # a(V + B) = P - side x
    y = (a - 1) * pi * e  # V - a(V + B) = Q + side y
    sin_phi = pick(law.sin_p) * xp.cos(x) - side * pick(law.cos_p) * xp.sin(x)
    cos_phi = pick(law.cos_q) * xp.cos(y) - side * pick(law.sin_q) * xp.sin(y)
    log_mag = (
        math.log(law.s)
        - xp.log(xp.sin(pi * e)) / a
        + (1 - a) / a * (xp.log(xp.abs(cos_phi)) - xp.log(w))
    )
    return xp.sign(sin_phi) * xp.exp(log_mag + xp.log(xp.abs(sin_phi)))


# ------------------------------------------------------------------ random streams (numpy)


class Streams:
    """Where one numpy kernel job draws from: V, W and, per refinement level, V's and W's.

    ``Streams(generator)`` draws everything from one generator (output is fixed by the seed);
    ``Streams.spawn(seed_seq)`` gives each kind of draw its own stream (children 0, 1 of the
    seed sequence for V and W, then lazily one per refinement level), so that a block of k
    steps draws the same numbers as k blocks of one step.
    """

    def __init__(self, v: np.random.Generator, w=None, seqs=None):
        self.v = v
        self.w = v if w is None else w
        self._seqs = seqs  # (SeedSequence for V's levels, for W's levels) or None
        self._levels: dict[tuple[int, int], np.random.Generator] = {}

    @classmethod
    def spawn(cls, seq: np.random.SeedSequence) -> Streams:
        v, w, rv, rw = seq.spawn(4)
        return cls(np.random.Generator(np.random.PCG64(v)),
                   np.random.Generator(np.random.PCG64(w)), (rv, rw))  # fmt: skip

    def level(self, kind: int, i: int) -> np.random.Generator:
        """Generator for refinement level ``i`` of V (kind 0) or W (kind 1)."""
        if self._seqs is None:
            return self.v
        key = (kind, i)
        if key not in self._levels:
            (child,) = self._seqs[kind].spawn(1)  # levels are created in order 0, 1, ...
            self._levels[key] = np.random.Generator(np.random.PCG64(child))
        return self._levels[key]


def refine(x, thr: float, draw, closed: bool = False) -> None:
    """Redraw, in place, the entries x < thr from U(0, thr) at full floating precision.

    ``x`` holds uniforms on a grid whose cells below thr have total probability thr: left or
    centred cells, or right ends of cells with ``closed=True`` (then x <= thr is redrawn);
    ``draw(level, k)`` returns k fresh U[0, 1) values of x's dtype. An entry redrawn below
    thr * thr is redrawn again one level down, and so on, so the result is uniform on every
    scale down to floating underflow. Works for numpy arrays and torch tensors.
    """
    low = (x <= thr) if closed else (x < thr)
    idx = low.nonzero()[0] if isinstance(x, np.ndarray) else low.nonzero()[:, 0]
    scale, level = thr, 0
    while len(idx) and scale > 0:
        r = draw(level, len(idx))
        x[idx] = r * scale
        idx = idx[r < thr]
        scale *= thr
        level += 1


# ------------------------------------------------------------------ numpy kernel


class Workspace:
    """Scratch arrays for one kernel job, reused so the hot loop never allocates."""

    def __init__(self, n: int, dtype):
        self.dtype = np.dtype(dtype)
        self.t, self.e = np.empty(n), np.empty(n)  # float64: U - 1/2 and the end distance
        self.w, self.a, self.v, self.b = (np.empty(n, self.dtype) for _ in range(4))

    def take(self, n: int):
        if n > self.t.size:
            self.__init__(n, self.dtype)
        return self.t[:n], self.e[:n], self.w[:n], self.a[:n], self.v[:n], self.b[:n]


def _ends_numpy(streams: Streams, t, e) -> None:
    """t = U - 1/2 on a grid symmetric about 0 (|t| < 1/2), e = 1/2 - |t| refined near 0."""
    streams.v.random(out=t)
    t -= 0.5 - HALF_STEP
    np.abs(t, out=e)
    np.subtract(0.5, e, out=e)  # exact in float64, >= 2^-54
    if e.min() < REFINE[8]:
        refine(e, REFINE[8], lambda i, k: streams.level(0, i).random(k))
        small = e < REFINE[8]
        t[small] = np.copysign(0.5 - e[small], t[small])  # V for the redrawn ends


def _minus_w_numpy(streams: Streams, alpha: float, w, scratch) -> None:
    """w = -W, W ~ Exp(1), exact in the tail that matters (large W if alpha > 1, else small)."""
    if alpha > 1:  # W = -log U', U' = 1 - U in (0, 1], refined near 0
        thr = REFINE[w.dtype.itemsize]
        streams.w.random(dtype=w.dtype, out=w)
        np.subtract(1, w, out=w)
        if w.min() <= thr:
            refine(w, thr, lambda i, k: streams.level(1, i).random(k, dtype=w.dtype), True)
        np.log(w, out=w)
        np.minimum(w, -np.finfo(w.dtype).eps / 4, out=w)  # W >= half a grid step, never 0
    else:  # small W drives the tail: W = -log1p(-U) in float64, U refined near 0
        streams.w.random(out=scratch)
        if scratch.min() < REFINE[8]:
            refine(scratch, REFINE[8], lambda i, k: streams.level(1, i).random(k))
        np.negative(scratch, out=scratch)
        np.log1p(scratch, out=scratch)
        np.copyto(w, scratch, casting="unsafe")


def s1_numpy(streams: Streams, n: int, law: CmsLaw, mult: float, add: float, out, ws: Workspace):
    """Write ``mult * Z + add`` into ``out`` (any shape, n values), Z ~ S1(alpha, beta, 1, 0).

    Arithmetic is in ``ws.dtype`` (the result is rounded to ``out.dtype`` after ``add``, so a
    float64 workspace avoids the cancellation of a large ``add``).
    """
    if n == 0:
        return out
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # ends give 0 and inf
        return _s1_numpy(streams, n, law, mult, add, out, ws)


def _s1_numpy(streams, n, law, mult, add, out, ws):
    alpha = law.alpha
    t, e, w, a, v, b = ws.take(n)
    _ends_numpy(streams, t, e)
    _minus_w_numpy(streams, alpha, w, a if a.dtype == np.float64 else np.empty(n))
    if law.exact:
        z = z_from_ends(law, np.sign(t), e, -w.astype(np.float64))
        np.copyto(b, z, casting="unsafe")
        v.fill(1.0)
    else:
        np.multiply(t, math.pi, out=v, casting="unsafe")  # V
        np.multiply(e, math.pi, out=a, casting="unsafe")
        np.sin(a, out=a)  # cos V = sin(pi e), full relative precision
        np.log(a, out=a)
        np.add(v, law.b, out=b)
        np.multiply(b, alpha, out=b)  # a(V + B)
        np.subtract(v, b, out=v)
        np.cos(v, out=v)  # cos(V - a(V + B))
        np.sin(b, out=b)
        np.divide(v, w, out=v)
        np.abs(v, out=v)  # cos(.)/W; |.| guards rounding at the ends
        np.log(v, out=v)
        np.multiply(v, (1 - alpha) / alpha, out=v)
        np.multiply(a, 1 / alpha, out=a)
        np.subtract(v, a, out=v)
        np.exp(v, out=v)
        np.multiply(b, law.s, out=b)
        for side in law.light:  # float64 where both phases vanish (see module docstring)
            near = np.flatnonzero((e < LIGHT_E) & ((t > 0) if side > 0 else (t < 0)))
            if near.size:
                z = z_from_ends(law, float(side), e[near], -w[near].astype(np.float64))
                b[near] = z
                v[near] = 1.0
    if mult != 1.0:
        np.multiply(b, mult, out=b)
    if out.dtype == b.dtype:
        np.multiply(b.reshape(out.shape), v.reshape(out.shape), out=out)  # out may be strided
        if add:
            out += add
    else:  # add in the work dtype, then round
        np.multiply(b, v, out=b)
        if add:
            b += add
        np.copyto(out, b.reshape(out.shape), casting="unsafe")
    return out


# ------------------------------------------------------------------ torch kernel


def s1_torch(gen, n: int, law: CmsLaw, mult: float, add: float, dtype, device):
    """``mult * Z + add`` as a 1-D tensor of ``dtype`` on ``device``, from one torch generator.

    The same algorithm as ``s1_numpy``: float64 uniforms for V (as side and end distance),
    refinement near 0, float64 near the light ends, work in ``dtype``.
    """
    import torch

    f64 = torch.float64

    def draw(dt):
        return lambda i, k: torch.rand(k, generator=gen, device=device, dtype=dt)

    t = torch.rand(n, generator=gen, device=device, dtype=f64) - (0.5 - HALF_STEP)
    e = 0.5 - t.abs()  # on CUDA U may be 1: e < 0 is refined like any small e
    if bool((e < REFINE[8]).any()):
        refine(e, REFINE[8], draw(f64))
        t = torch.where(e < REFINE[8], torch.copysign(0.5 - e, t), t)
    if law.alpha > 1:
        u = 1 - torch.rand(n, generator=gen, device=device, dtype=dtype)
        thr = REFINE[u.element_size()]
        if bool((u <= thr).any()):
            refine(u, thr, draw(dtype), True)
        minus_w = torch.log(u).clamp_(max=-torch.finfo(dtype).eps / 4)
    else:
        u = torch.rand(n, generator=gen, device=device, dtype=f64)
        if bool((u < REFINE[8]).any()):
            refine(u, REFINE[8], draw(f64))
        minus_w = torch.log1p(-u).to(dtype)
    del u
    side = torch.sign(t)
    if law.exact:
        z = z_from_ends(law, side, e, -minus_w.to(f64), torch)
    else:
        a = law.alpha
        v = (t * math.pi).to(dtype)
        log_cos_v = torch.log(torch.sin((e * math.pi).to(dtype)))
        b = (v + law.b) * a
        c = torch.log(torch.abs(torch.cos(v - b) / minus_w)) * ((1 - a) / a) - log_cos_v / a
        z = torch.sin(b) * law.s * torch.exp(c)
        del v, b, c, log_cos_v
        for s in law.light:
            near = ((e < LIGHT_E) & ((t > 0) if s > 0 else (t < 0))).nonzero()[:, 0]
            if len(near):
                zf = z_from_ends(law, float(s), e[near], -minus_w[near].to(f64), torch)
                z[near] = zf.to(dtype)
    if law.exact or (dtype != f64 and abs(add) > 0):
        z = z.to(f64)  # add in float64, then round
    if mult != 1.0:
        z = z * mult
    if add:
        z = z + add
    return z.to(dtype)

"""``fit()``: one entry point for every estimator, returning a self-describing ``FitResult``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .crb import crb_sd
from .ecf import CHUNK, SUBSAMPLE, beta_source, gmm_refine, koutrouvelis, start_values, summarize
from .intervals import calibrated
from .mohammadi import mohammadi
from .params import check_parametrization, convert_loc, log_cf
from .quantile import mcculloch

METHODS = ("ecf", "quantile", "mohammadi")
MIN_N = {"ecf": 20, "quantile": 20, "mohammadi": 4}
MIN_CENTRAL_VALUES = 8  # fewer distinct values between the quartiles: lattice data, refused
CLIP = 1e15  # standardised values beyond this many spreads are clipped (see _standardizer)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class FitResult:
    """Estimated stable law and how it was obtained.

    ``loc`` is in ``parametrization`` (S0 or S1); ``alpha``, ``beta`` and ``scale`` are the same
    in both. For ``method="mohammadi"`` only ``alpha`` is estimated (the rest is NaN).
    ``se`` holds standard errors and ``ci95`` the 95% intervals, always inside the parameter
    space; ``info["clipped"]`` lists the parameters whose interval ends at its edge.
    ``uncertainty`` says where they come from: "calibrated" (default for ``ecf``: intervals by
    inverting the estimator's own sampling law, valid near alpha = 2 and |beta| = 1 and below
    alpha 1.1; ``se`` is the asymptotic sd at the estimate; see ``stable.intervals``), "crb"
    (Cramer-Rao bound at the estimate, +- 1.96 se, clipped), "bootstrap" (block bootstrap) or
    "blocks" (Mohammadi's per-block spread).
    ``gof`` is sqrt(n) max_t |ECF(t) - phi(t)| over t*scale in [0.1, 3]: an ECF-based
    Kolmogorov-type distance, about 1-3 for a good fit, growing like sqrt(n) for a wrong law.
    ``skewness`` and ``kurtosis`` (excess) are moment statistics of the raw sample, scipy's
    bias=True convention; they describe the sample, not the stable fit.
    """

    alpha: float
    beta: float
    scale: float
    loc: float
    n: int
    method: str
    parametrization: str
    se: dict[str, float] = field(default_factory=dict)
    uncertainty: str = "none"
    ci95: dict[str, tuple[float, float]] = field(default_factory=dict)
    gof: float = math.nan
    skewness: float = math.nan
    kurtosis: float = math.nan
    converged: bool = True
    info: dict = field(default_factory=dict)

    def to(self, parametrization: str) -> FitResult:
        """The same fit with ``loc`` (and its CI) expressed in another parametrisation."""
        p = check_parametrization(parametrization)
        if p == self.parametrization or math.isnan(self.loc):
            return replace(self, parametrization=p)
        loc = float(
            convert_loc(self.alpha, self.beta, self.scale, self.loc, self.parametrization, p)
        )
        se = dict(self.se)
        ci = dict(self.ci95)
        if "loc" in se and self.uncertainty in ("crb", "calibrated"):
            if self.uncertainty == "crb":
                se["loc"] = crb_sd(self.alpha, self.beta, self.scale, self.n, p)["loc"]
            else:  # the calibrated fit keeps the location's se in both parametrisations
                se["loc"] = self.info["loc_se"][p]
            ci["loc"] = (loc - Z95 * se["loc"], loc + Z95 * se["loc"])
        elif "loc" in ci:  # shift the bootstrap interval by the (fixed-parameter) offset
            d = loc - self.loc
            ci["loc"] = (ci["loc"][0] + d, ci["loc"][1] + d)
        return replace(self, loc=loc, parametrization=p, se=se, ci95=ci)

    def to_dict(self) -> dict:
        """Plain-Python dict (JSON-ready: NaN becomes None)."""

        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(w) for k, w in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(w) for w in v]
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        return clean(asdict(self))


def _validate(x, axis, nan_policy: str) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(float array, its (min, max) if 1-D and already known), or ValueError/TypeError naming
    the problem."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"x must be real numbers, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError("x must be a 1-D sample, got a scalar")
    if arr.ndim > 1:
        if axis is None:
            raise ValueError(
                f"x is {arr.ndim}-D with shape {arr.shape}: pass axis= to fit each slice, or "
                "x.ravel() to pool all values into one sample"
            )
    if arr.dtype.kind in "iu" or arr.dtype.itemsize < 4:
        arr = arr.astype(np.float64)
    bounds = None
    if arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("x is empty")
        lo, hi = arr.min(), arr.max()  # NaN propagates in min
        if np.isfinite(lo) and np.isfinite(hi):
            bounds = (float(lo), float(hi))  # the fit needs them: each is a pass
        else:
            bad = ~np.isfinite(arr)
            if nan_policy == "omit":
                arr = arr[~bad]
            else:
                raise ValueError(
                    f"x contains {int(bad.sum())} non-finite value(s) (NaN/inf), first at index "
                    f"{int(np.flatnonzero(bad)[0])}; remove them or pass nan_policy='omit'"
                )
    return arr, bounds


def _moments(x: np.ndarray, bound: float | None = None) -> tuple[float, float]:
    """Moment skewness m3/m2^1.5 and excess kurtosis m4/m2^2 - 3 (biased, float64 sums).

    Scale-free: where d^4 could overflow or underflow, x is first multiplied by the power of
    two that brings max |x| (``bound``, if known) below 1, which is exact, so data at 1e300 or
    one value at 1e308 cannot overflow; the ratios do not depend on the scale.
    """
    big = float(np.max(np.abs(x))) if bound is None else bound
    scale = 1.0 if 1e-60 < big < 1e60 else 2.0 ** -math.frexp(big)[1]
    # Two passes (the mean, then the central sums in chunks): no float64 copies of the sample,
    # whose fresh pages cost more than the arithmetic. Scaling by a power of two commutes with
    # rounding, so the sum is scaled after unless it overflowed.
    chunks = [x[i : i + CHUNK] for i in range(0, x.size, CHUNK)]
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(x, dtype=np.float64)) * scale
    if not math.isfinite(total):
        total = math.fsum(float(np.multiply(c, scale, dtype=np.float64).sum()) for c in chunks)
    mean = total / x.size
    sums = np.zeros(3)
    for c in chunks:
        if scale == 1.0:
            d = np.subtract(c, mean, dtype=np.float64)
        else:
            d = np.multiply(c, scale, dtype=np.float64)
            d -= mean
        d2 = np.square(d)
        sums += (d2.sum(), np.dot(d2, d), np.dot(d2, d2))
    m2, m3, m4 = sums / x.size
    return float(m3 / m2**1.5), float(m4 / m2**2 - 3.0)


def _gof(src, alpha, beta, scale, loc0) -> float:
    t = np.linspace(0.1, 3.0, 30) / scale
    model = np.exp(log_cf(t, alpha, beta, scale, loc0, "S0"))
    return float(np.sqrt(src.n) * np.max(np.abs(src.ecf(t) - model)))


def _check_continuous(x: np.ndarray) -> None:
    """ValueError for lattice data (counts, coarse rounding), where a stable fit means nothing.

    A continuous sample of n >= 20 has at least 10 distinct values between its quartiles (about
    n/2, up to 4096 in the subsample used here; float32 rounding makes ties, not fewer values).
    Fewer than 8 means that the quartiles span only a few steps of a lattice.
    """
    sub = x if x.size <= SUBSAMPLE else x[np.random.default_rng(0).integers(0, x.size, SUBSAMPLE)]
    q25, q75 = np.quantile(sub, [0.25, 0.75])
    central = np.unique(sub[(sub >= q25) & (sub <= q75)])
    if central.size < MIN_CENTRAL_VALUES:
        step = f"{np.diff(central).min():.3g}" if central.size > 1 else "none: one value"
        raise ValueError(
            f"x looks discrete (a lattice): only {central.size} distinct value(s) between its "
            f"quartiles {q25:.6g} and {q75:.6g} (step {step}); a stable law is continuous, so "
            "a stable fit to these data would be meaningless"
        )


def _standardizer(dtype: np.dtype, center: float, spread: float, bound: float):
    """The function v -> (v - center) / spread, clipped to +-CLIP: what the ECF and quantile
    fits see (call it under ``np.errstate(over="ignore")``; it runs once per chunk).

    Fitting standardised data makes them scale-free (data at 1e300, or one value at 1e308,
    where t x overflowed). Clipping only moves points beyond 1e15 spreads, whose ECF terms
    cos(t x) are arbitrary phases and whose quantiles are unaffected. float32 data stay float32
    unless their spread could overflow it (``bound`` is max |x - center|).
    """
    big = bound / spread
    dt = dtype if dtype == np.float64 or big < 1e30 else np.dtype(np.float64)
    c, s, clip = dt.type(center), dt.type(spread), not big < CLIP

    def standardize(v: np.ndarray) -> np.ndarray:
        z = np.subtract(v, c, dtype=dt)
        z /= s
        if clip:
            np.clip(z, -CLIP, CLIP, out=z)
        return z

    return standardize


def _point_fit(
    x: np.ndarray, method: str, block, symmetrize: bool, refine: bool, bounds=None
) -> dict:
    """Point estimate in S0 (plus extras) for one 1-D finite sample (``bounds``: min, max)."""
    if method == "mohammadi":
        m = mohammadi(x, block=block, symmetrize=symmetrize)
        return dict(
            alpha=m.alpha,
            beta=math.nan,
            scale=math.nan,
            loc0=math.nan,
            se={"alpha": m.alpha_se},
            info={
                "estimator": m.estimator,
                "block": m.block,
                "n_blocks": m.n_blocks,
                "n_used": m.n_used,
                "center": m.center,
                "alpha_clipped": m.clipped,  # the estimate (not its interval) hit 2
                "alpha_raw": m.alpha_raw,
            },
            converged=True,
        )
    center, spread, q = start_values(x)
    lo, hi = bounds if bounds is not None else (float(x.min()), float(x.max()))
    bound = max(hi - center, center - lo)
    q = (q - center) / spread
    est = _standard_fit(x, method, refine, q, _standardizer(x.dtype, center, spread, bound))
    est["scale"] *= spread  # back to data units (S0 is a location-scale family)
    est["loc0"] = center + spread * est["loc0"]
    return est


def _standard_fit(x: np.ndarray, method: str, refine: bool, q: np.ndarray, standardize) -> dict:
    """``_point_fit`` on ``standardize(x)`` (median 0, half-IQR 1; ``q`` standardised)."""
    center, spread = 0.0, 1.0
    with np.errstate(over="ignore"):  # see _standardizer
        if method == "ecf":  # the ECF needs only the summary: standardise chunk by chunk
            src = summarize(x, center, spread, q, prep=standardize)
        else:
            x = standardize(x)
            src = summarize(x, center, spread, q)
    if method == "ecf":
        f = koutrouvelis(src, center, spread)
        beta_from = beta_source(f.alpha, refine)  # the intervals need to know
        if refine:
            f = gmm_refine(src, f)[0]
        out = dict(alpha=f.alpha, beta=f.beta, scale=f.scale, loc0=f.loc0)
        out["info"] = {"iterations": f.iterations, "beta_from": beta_from}
        out["converged"] = f.converged
    else:
        f = mcculloch(x)
        out = dict(alpha=f.alpha, beta=f.beta, scale=f.scale, loc0=f.loc0, converged=True)
        out["info"] = {"at_boundary": f.at_boundary}
    out["gof"] = _gof(src, out["alpha"], out["beta"], out["scale"], out["loc0"])
    return out


def fit(
    x,
    method: str = "ecf",
    parametrization: str = "S1",
    *,
    axis: int | None = None,
    uncertainty: str = "auto",
    n_boot: int = 100,
    n_blocks: int = 50,
    seed=0,
    block: int | str = "sqrt",
    symmetrize: bool = False,
    moments: bool = True,
    nan_policy: str = "raise",
    refine: bool = True,
):
    """Fit an alpha-stable law to the 1-D sample ``x``.

    Parameters
    ----------
    method : "ecf" (default; iterated Koutrouvelis ECF regression on a one-pass binned
        summary, then an optimally weighted ECF (GMM) refinement unless ``refine=False``),
        "quantile" (McCulloch, exact quantiles, spline-inverted) or "mohammadi"
        (block-sum estimator of alpha only; see ``block`` and ``symmetrize``).
    parametrization : "S1" (default) or "S0": the parametrisation of the returned ``loc``.
    axis : required for n-D input: fit every 1-D slice along ``axis``; returns an object array
        of results with the other dimensions' shape.
    uncertainty : "auto" ("calibrated" intervals for ecf at every alpha, see
        ``stable.intervals``; for quantile, and ecf with ``refine=False``, CRB where tabled,
        alpha >= 1.1, else a 50-replicate block bootstrap; per-block spread for mohammadi),
        "crb" (NaN below alpha 1.1),
        "bootstrap" (contiguous-block bootstrap: ``n_blocks`` blocks, ``n_boot`` refits, seeded
        by ``seed``; keeps serial dependence within blocks) or "none".
    moments : also compute moment skewness / excess kurtosis (costs ~4 ms per 1e6 points).
    nan_policy : "raise" (default) or "omit" non-finite values.
    """
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    p = check_parametrization(parametrization)
    if uncertainty not in ("auto", "crb", "bootstrap", "none"):
        raise ValueError(f"uncertainty must be auto, crb, bootstrap or none, got {uncertainty!r}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    arr, bounds = _validate(x, axis, nan_policy)
    if arr.ndim > 1:
        moved = np.moveaxis(arr, axis, -1)
        out = np.empty(moved.shape[:-1], dtype=object)
        for idx in np.ndindex(out.shape):
            out[idx] = fit(
                moved[idx], method, p, uncertainty=uncertainty, n_boot=n_boot,
                n_blocks=n_blocks, seed=seed, block=block, symmetrize=symmetrize,
                moments=moments, nan_policy=nan_policy, refine=refine,
            )  # fmt: skip
        return out
    n = arr.size
    if n < MIN_N[method]:
        raise ValueError(f"too few points for method {method!r}: n = {n} < {MIN_N[method]}")
    lo, hi = bounds if bounds is not None else (float(arr.min()), float(arr.max()))
    if lo == hi:
        raise ValueError(f"constant sample: all {n} values equal {lo!r}")
    if n >= MIN_N["ecf"]:
        _check_continuous(arr)

    est = _point_fit(arr, method, block, symmetrize, refine, (lo, hi))
    loc = est["loc0"]
    if p == "S1" and not math.isnan(loc):
        loc = float(convert_loc(est["alpha"], est["beta"], est["scale"], loc, "S0", "S1"))
    point = {"alpha": est["alpha"], "beta": est["beta"], "scale": est["scale"], "loc": loc}
    se, ci, kind = _uncertainty(arr, est, point, uncertainty, method, p, n_boot, n_blocks,
                                seed, block, symmetrize, refine)  # fmt: skip
    skew, kurt = _moments(arr, max(-lo, hi)) if moments else (math.nan, math.nan)
    return FitResult(
        alpha=float(est["alpha"]),
        beta=float(est["beta"]),
        scale=float(est["scale"]),
        loc=float(loc),
        n=int(n),
        method=method,
        parametrization=p,
        se={k: float(v) for k, v in se.items()},
        uncertainty=kind,
        ci95={k: (float(a), float(b)) for k, (a, b) in ci.items()},
        gof=float(est.get("gof", math.nan)),
        skewness=skew,
        kurtosis=kurt,
        converged=bool(est["converged"]),
        info=est["info"],
    )


def _uncertainty(arr, est, point, uncertainty, method, p, n_boot, n_blocks, seed, block,
                 symmetrize, refine):  # fmt: skip
    """(se, ci95, kind) for the chosen ``uncertainty``; records clipping in est["info"]."""
    n = arr.size
    se: dict[str, float] = dict(est.pop("se", {}))  # Mohammadi's per-block se, if any
    names = ["alpha"] if method == "mohammadi" else ["alpha", "beta", "scale", "loc"]
    if uncertainty == "none":
        return {}, {}, "none"
    if uncertainty == "bootstrap":
        se, ci = _bootstrap(arr, method, p, block, symmetrize, n_boot, n_blocks, seed, names)
        return se, ci, "bootstrap"
    if method == "mohammadi":  # no CRB for an alpha-only estimator: per-block spread
        return se, _wald(point, se, est["info"]), "blocks"
    if uncertainty == "crb":
        se = crb_sd(est["alpha"], est["beta"], est["scale"], n, p)
        return se, _wald(point, se, est["info"]), "crb"
    if method == "ecf" and refine:
        se, ci, clipped, loc_se = calibrated(
            est["alpha"], est["beta"], est["scale"], est["loc0"], n, p,
            beta_from=est["info"].get("beta_from", "gmm"),
        )  # fmt: skip
        est["info"]["clipped"] = clipped
        est["info"]["loc_se"] = loc_se
        return se, ci, "calibrated"
    se = crb_sd(est["alpha"], est["beta"], est["scale"], n, p)  # quantile (or refine=False)
    if math.isnan(se["alpha"]):  # no CRB (alpha < 1.1)
        se, ci = _bootstrap(arr, method, p, block, symmetrize, 50, n_blocks, seed, names)
        return se, ci, "bootstrap"
    return se, _wald(point, se, est["info"]), "crb"


def _wald(point, se, info) -> dict[str, tuple[float, float]]:
    """estimate +- 1.96 se, clipped to the parameter range; clipped names go to info."""
    limits = {"alpha": (0.0, 2.0), "beta": (-1.0, 1.0), "scale": (0.0, math.inf)}
    ci, clipped = {}, []
    for k, v in se.items():
        lo, hi = point[k] - Z95 * v, point[k] + Z95 * v
        a, b = limits.get(k, (-math.inf, math.inf))
        if lo < a or hi > b:
            clipped.append(k)
        ci[k] = (max(lo, a), min(hi, b))
    info["clipped"] = clipped
    return ci


def _bootstrap(arr, method, p, block, symmetrize, n_boot, n_blocks, seed, names):
    """Contiguous-block bootstrap: resample whole blocks, refit, report sd and 2.5-97.5%."""
    n = arr.size
    n_blocks = int(min(n_blocks, n // MIN_N[method]))
    if n_blocks < 2:
        raise ValueError(f"bootstrap needs at least 2 blocks of {MIN_N[method]} points, n = {n}")
    edges = np.linspace(0, n, n_blocks + 1).astype(int)
    blocks = [arr[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        xb = np.concatenate([blocks[i] for i in rng.integers(0, n_blocks, n_blocks)])
        try:
            r = fit(xb, method, p, uncertainty="none", block=block, symmetrize=symmetrize,
                    moments=False)  # fmt: skip
        except ValueError:  # e.g. a replicate with a degenerate ECF: skip it
            continue
        reps.append([getattr(r, k) for k in names])
    if len(reps) < max(10, n_boot // 2):
        raise ValueError(f"bootstrap failed: only {len(reps)} of {n_boot} replicates could be fit")
    reps = np.array(reps)
    se = dict(zip(names, reps.std(axis=0, ddof=1), strict=True))
    lo, hi = np.percentile(reps, [2.5, 97.5], axis=0)
    ci = {k: (float(a), float(b)) for k, a, b in zip(names, lo, hi, strict=True)}
    return se, ci


def describe(x) -> tuple[float, float]:
    """Moment skewness and excess kurtosis of a 1-D sample (scipy's bias=True convention)."""
    return _moments(_validate(x, None, "raise")[0])

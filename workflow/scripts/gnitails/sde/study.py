"""The implicit-bias study: simulate a grid of (alpha, beta), measure where the particles sit.

For each cell, ``n_particles`` independent Euler chains run ``n_steps`` steps from w* (every
step is burn-in; the final states are the sample). Per coordinate we report the mean, median
and mode of W - w* with Monte-Carlo CIs (estimators.py), and E f(W) - f(w*); for quadratic
potentials the exact law of the simulated scheme (``*_closed``) and the continuous-time SDE
value (``*_sde``) sit next to each estimate (closed_forms.py). One row per (alpha, beta, coord).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .closed_forms import StableLaw, euler_ou_law, ou_stationary
from .estimators import mean_ci, median_ci, mode_kde
from .euler import SCHEMES, simulate
from .noise import INCREMENTS, increment_affine
from .potentials import Potential, make_potential
from .validate import check_alpha, check_beta, check_count, check_positive

DEFAULTS = {
    "alphas": [1.2, 1.5, 1.8, 2.0],
    "betas": [-1.0, -0.5, 0.0, 0.5, 1.0],
    "sigma": 1.0,
    "step": 0.01,
    "n_particles": 20000,
    "n_steps": 1000,
    "increments": "S1",
    "scheme": "euler",
    "seed": 0,
    "noise_dtype": "float32",
    "ci_level": 0.95,
    "n_boot": 200,
}
KEYS = {"potential", *DEFAULTS}

STATS = ("mean_bias", "median_bias", "mode_bias", "excess_loss")


def check_study(spec: Mapping, name: str = "study") -> dict:
    """The study block with defaults filled in, or ValueError naming ``name.key``."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"sde.{name}: expected a mapping, got {type(spec).__name__}")
    extra = set(spec) - KEYS
    if extra:
        raise ValueError(f"sde.{name}: unknown key(s) {sorted(extra)}; allowed: {sorted(KEYS)}")
    if "potential" not in spec:
        raise ValueError(f"sde.{name}: missing 'potential'")
    out = {**DEFAULTS, **spec}
    try:
        out["alphas"] = [check_alpha(a) for a in out["alphas"]]
        out["betas"] = [check_beta(b) for b in out["betas"]]
        if not out["alphas"] or not out["betas"]:
            raise ValueError("alphas and betas must not be empty")
        out["sigma"] = check_positive("sigma", out["sigma"])
        out["step"] = check_positive("step", out["step"])
        out["n_particles"] = check_count("n_particles", out["n_particles"], minimum=100)
        out["n_steps"] = check_count("n_steps", out["n_steps"])
        out["n_boot"] = check_count("n_boot", out["n_boot"])
        out["seed"] = check_count("seed", out["seed"], minimum=0)
        if out["increments"] not in INCREMENTS:
            raise ValueError(f"increments must be one of {INCREMENTS}, got {out['increments']!r}")
        if out["scheme"] not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {out['scheme']!r}")
        if out["noise_dtype"] not in ("float32", "float64"):
            raise ValueError(f"noise_dtype must be float32 or float64, got {out['noise_dtype']!r}")
        if not 0 < float(out["ci_level"]) < 1:
            raise ValueError(f"ci_level must lie in (0, 1), got {out['ci_level']!r}")
        pot = make_potential(out["potential"])
        if out["scheme"] == "euler":
            pot.check_step(out["step"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sde.{name}: {exc}") from None
    return out


def cell_seed(seed: int, alpha: float, beta: float) -> np.random.SeedSequence:
    """A cell's stream, keyed by its (alpha, beta) values: editing the grid keeps other cells."""
    return np.random.SeedSequence(seed, spawn_key=(round(alpha * 1e6), round((beta + 1) * 1e6)))


def _closed_laws(pot: Potential, cfg: dict, alpha: float, beta: float, coord: int):
    """(exact law of the scheme, continuous-time law) of coordinate ``coord``, or (None, None)."""
    if not pot.is_quadratic:
        return None, None
    theta, c = float(pot.curvature[coord]), float(pot.minimizer[coord])
    sigma, h = cfg["sigma"], cfg["step"]
    step_mean = increment_affine(alpha, beta, sigma, h, cfg["increments"])[1]
    scheme = euler_ou_law(
        alpha, beta, sigma, theta, h, center=c, step_mean=step_mean, n_steps=cfg["n_steps"],
        scheme=cfg["scheme"],
    )  # fmt: skip
    sde = ou_stationary(alpha, beta, sigma, theta, center=c, drift=step_mean / h)
    return scheme, sde


def _law_stats(law: StableLaw | None, center: float) -> dict:
    if law is None:
        return {"mean_bias": math.nan, "median_bias": math.nan, "mode_bias": math.nan}
    return {
        "mean_bias": law.mean - center,
        "median_bias": law.median - center,
        "mode_bias": law.mode - center,
    }


def _excess_closed(pot: Potential, laws: list[StableLaw | None]) -> float:
    """E f(W) - f(w*) = sum_i theta_i/2 E (W_i - w*_i)^2 (quadratic only; inf for alpha < 2)."""
    if not pot.is_quadratic or any(law is None for law in laws):
        return math.nan
    return float(
        sum(
            0.5 * th * law.second_moment_about(c)
            for th, c, law in zip(pot.curvature, pot.minimizer, laws, strict=True)
        )
    )


def run_cell(pot: Potential, cfg: dict, alpha: float, beta: float, *, threads=None) -> list[dict]:
    """Simulate one (alpha, beta) cell and return its rows (one per coordinate)."""
    sim = simulate(
        pot, alpha, beta, cfg["sigma"], cfg["step"], cfg["n_particles"], cfg["n_steps"],
        increments=cfg["increments"], scheme=cfg["scheme"], dtype=np.dtype(cfg["noise_dtype"]),
        seed=cell_seed(cfg["seed"], alpha, beta), threads=threads,
    )  # fmt: skip
    level = float(cfg["ci_level"])
    w = sim.states
    excess = pot.value(w) - pot.f_min
    ex_mean = mean_ci(excess, level=level)
    ex_med = median_ci(excess, level=level)
    laws = [_closed_laws(pot, cfg, alpha, beta, j) for j in range(pot.dim)]
    ex_closed = _excess_closed(pot, [lw[0] for lw in laws])
    ex_sde = _excess_closed(pot, [lw[1] for lw in laws])
    rows = []
    for j in range(pot.dim):
        c = float(pot.minimizer[j])
        x = w[:, j] - c
        scheme_law, sde_law = laws[j]
        # Quadratic potentials have exactly stable stationary laws: use the stable CLT.
        tail = (alpha, scheme_law.beta) if scheme_law is not None and alpha < 2 else (None, 0.0)
        est = {
            "mean_bias": mean_ci(x, level=level, tail_alpha=tail[0], tail_beta=tail[1]),
            "median_bias": median_ci(x, level=level),
        }
        est["mode_bias"], bandwidth = mode_kde(x, level=level, n_boot=cfg["n_boot"], seed=j)
        closed, sde = _law_stats(scheme_law, c), _law_stats(sde_law, c)
        row = {
            "alpha": alpha,
            "beta": beta,
            "coord": j,
            "center": c,
            "scale": cfg["sigma"],
            "step": cfg["step"],
            "n_steps": cfg["n_steps"],
            "n_particles": cfg["n_particles"],
            "parametrization": cfg["increments"],
            "scheme": cfg["scheme"],
            "potential": pot.describe(),
            "noise_drift": sim.noise_drift,
        }
        for s in ("mean_bias", "median_bias", "mode_bias"):
            row.update({s: est[s].value, f"{s}_lo": est[s].lo, f"{s}_hi": est[s].hi})
            row.update({f"{s}_closed": closed[s], f"{s}_sde": sde[s]})
        row.update(
            {
                "mean_ci_method": "stable" if tail[0] is not None else "normal",
                "mode_bandwidth": bandwidth,
                "stationary_scale_closed": math.nan if scheme_law is None else scheme_law.scale,
                "excess_loss": ex_mean.value,
                "excess_loss_lo": ex_mean.lo,
                "excess_loss_hi": ex_mean.hi,
                "excess_loss_closed": ex_closed,
                "excess_loss_sde": ex_sde,
                "excess_loss_median": ex_med.value,
                "excess_loss_median_lo": ex_med.lo,
                "excess_loss_median_hi": ex_med.hi,
            }
        )
        rows.append(row)
    return rows


def run_study(
    spec: Mapping,
    name: str = "study",
    *,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run every (alpha, beta) cell of a study block; one row per cell and coordinate."""
    cfg = check_study(spec, name)
    pot = make_potential(cfg["potential"])
    rows = []
    for alpha in cfg["alphas"]:
        for beta in cfg["betas"]:
            rows.extend(run_cell(pot, cfg, alpha, beta, threads=threads))
            if progress is not None:
                r = rows[-1]
                progress(
                    f"{name}: alpha={alpha:g} beta={beta:+g} mean {r['mean_bias']:+.3f} "
                    f"(closed {r['mean_bias_closed']:+.3f}) mode {r['mode_bias']:+.3f} "
                    f"(closed {r['mode_bias_closed']:+.3f})"
                )
    df = pd.DataFrame(rows)
    df.insert(0, "study", name)
    df.attrs["config"] = {k: v for k, v in cfg.items()}
    return df


def write_study(
    spec: Mapping,
    name: str,
    path,
    *,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run a study and write it to Parquet at ``path`` (the config goes into the metadata)."""
    from pathlib import Path

    df = run_study(spec, name, threads=threads, progress=progress)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return df


__all__ = ["DEFAULTS", "STATS", "check_study", "cell_seed", "run_cell", "run_study", "write_study"]

"""Benchmark of gnitails.sde: 1e4 particles x 1e4 Euler steps of a 2-D OU process.

    .venv/bin/python bench/bench_sde.py            # ~2 min on 2 cores
    .venv/bin/python bench/bench_sde.py --quick    # 1 repeat, smaller accuracy runs

Problem (issue 6): dW = -W dt + dL, L_1 ~ S1(1.5, 0.5, 1, 0) per coordinate, h = 1e-3, from 0.
The reference, timed in the same run, is the straightforward numpy loop: per step, draw the
(1e4, 2) noise with gnitails.stable.sample (float32) and apply w <- w - h w + h^(1/a) z. Both are
checked against the exact law of the Euler AR(1) (a stable fit to the 2e4 final coordinates).
Also measured: the stable samplers' throughput (the cost driver: 2e8 variates), the engine's
generic-gradient path (no affine fast path), torch on CPU, and float32 vs float64 noise.
Writes bench/results/sde.json and bench/results/sde.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from gnitails.sde import CustomPotential, Quadratic, euler_ou_law, mean_ci, simulate
from gnitails.stable import fit, sample
from machine import describe

OUT = Path(__file__).resolve().parent / "results"
ALPHA, BETA, H, N, STEPS, DIM = 1.5, 0.5, 1e-3, 10_000, 10_000, 2


def clock(f):
    """(result, wall seconds, process CPU seconds, load average at start)."""
    load = os.getloadavg()[0]
    t, c = time.perf_counter(), time.process_time()
    r = f()
    return r, time.perf_counter() - t, time.process_time() - c, load


def reference_loop(seed: int = 0) -> np.ndarray:
    """The straightforward version: one sampler call and two numpy ops per step."""
    rng = np.random.default_rng(seed)
    w = np.zeros((N, DIM))
    m = H ** (1 / ALPHA)
    for _ in range(STEPS):
        z = sample(ALPHA, BETA, size=(N, DIM), dtype=np.float32, seed=rng, threads=1)
        w -= H * w
        w += m * z
    return w


def check(w: np.ndarray) -> dict:
    """Stable fit of the final coordinates against the exact Euler AR(1) law."""
    law = euler_ou_law(ALPHA, BETA, 1.0, 1.0, H, n_steps=STEPS)
    f = fit(w.ravel())
    z = {k: (getattr(f, k) - want) / f.se[k] for k, want in
         (("alpha", ALPHA), ("beta", BETA), ("scale", law.scale), ("loc", law.loc))}  # fmt: skip
    return {
        "alpha": f.alpha,
        "beta": f.beta,
        "scale": f.scale,
        "loc": f.loc,
        "exact_scale": law.scale,
        "max_abs_z": max(abs(v) for v in z.values()),
        "finite": bool(np.isfinite(w).all()),
    }


def engine(threads=None, dtype=np.float32, generic=False, backend="numpy", seed=0):
    pot = Quadratic([1.0] * DIM)
    if generic:  # same potential through grad(): no affine fast path
        pot = CustomPotential(pot.value, pot.grad, pot.minimizer, name="quadratic(grad)")
    return simulate(
        pot, ALPHA, BETA, 1.0, H, N, STEPS, seed=seed, dtype=dtype, threads=threads,
        backend=backend, device="cpu" if backend == "torch" else None,
    ).states  # fmt: skip


def sampler_throughput(n: int, reps: int) -> dict:
    """Variates per second of the stable samplers on n float32 draws."""
    from scipy.stats import levy_stable

    from gnitails.sde import LevyIncrements

    out = {}

    def best(f, r=reps):
        return min(clock(f)[1] for _ in range(r))

    out["stable.sample f32 (threads=all)"] = n / best(
        lambda: sample(ALPHA, BETA, size=n, dtype=np.float32, seed=1)
    )
    out["stable.sample f32 (threads=1)"] = n / best(
        lambda: sample(ALPHA, BETA, size=n, dtype=np.float32, seed=1, threads=1)
    )
    for th in (1, 2):
        gen = LevyIncrements(ALPHA, BETA, 1.0, 1.0, (n,), seed=1, threads=th)
        out[f"sde kernel f32 (threads={th})"] = n / best(lambda g=gen: g.block(1))
        gen.close()
    gen = LevyIncrements(ALPHA, BETA, 1.0, 1.0, (n,), seed=1, dtype=np.float64)
    out["sde kernel f64 (threads=2)"] = n / best(lambda: gen.block(1))
    gen.close()
    levy_stable.parameterization = "S1"
    m = n // 10
    out["scipy levy_stable.rvs f64"] = m / best(
        lambda: levy_stable.rvs(ALPHA, BETA, size=m, random_state=1), 1
    )
    return {k: round(v / 1e6, 1) for k, v in out.items()}  # M variates / s


def float32_accuracy(n_particles: int) -> list[dict]:
    """Mean bias (closed form 0) and stable fit at alpha 1.2, beta 1: where tails matter most."""
    rows = []
    pot = Quadratic(1.0)
    for dtype in (np.float32, np.float64):
        w, wall, _, _ = clock(
            lambda d=dtype: simulate(pot, 1.2, 1.0, 1.0, 0.01, n_particles, 1000, seed=3, dtype=d)
        )
        x = w.states[:, 0]
        law = euler_ou_law(1.2, 1.0, 1.0, 1.0, 0.01, n_steps=1000)
        m = mean_ci(x, tail_alpha=1.2, tail_beta=1.0)
        f = fit(x)
        rows.append(
            {
                "noise_dtype": np.dtype(dtype).name,
                "seconds": round(wall, 2),
                "mean_bias": m.value,
                "mean_ci": [m.lo, m.hi],
                "fit_scale": f.scale,
                "exact_scale": law.scale,
                "fit_alpha": f.alpha,
                "fit_beta": f.beta,
            }
        )
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    reps = 1 if args.quick else 3
    res = {"machine": describe(), "problem": {"alpha": ALPHA, "beta": BETA, "step": H,
           "particles": N, "steps": STEPS, "dim": DIM}}  # fmt: skip
    res["sampler_Mvariates_per_s"] = sampler_throughput(10**6 if args.quick else 10**7, reps)
    runs = {"engine f32 threads=2": [], "engine f32 threads=1": [], "reference numpy loop": []}
    fns = {
        "engine f32 threads=2": lambda: engine(threads=2),
        "engine f32 threads=1": lambda: engine(threads=1),
        "reference numpy loop": reference_loop,
    }
    checks = {}
    for _ in range(reps):  # interleaved so that load changes hit every variant alike
        for name, f in fns.items():
            w, wall, cpu, load = clock(f)
            runs[name].append({"wall": wall, "cpu": cpu, "load": load})
            checks[name] = check(w)
    for name, f in (
        ("engine f64 noise threads=2", lambda: engine(dtype=np.float64)),
        ("engine generic grad threads=2", lambda: engine(generic=True)),
        ("engine torch cpu f32", lambda: engine(backend="torch")),
    ):
        w, wall, cpu, load = clock(f)
        runs[name] = [{"wall": wall, "cpu": cpu, "load": load}]
        checks[name] = check(w)
    summary = {}
    for name, rs in runs.items():
        walls = [r["wall"] for r in rs]
        summary[name] = {
            "median_s": statistics.median(walls),
            "min_s": min(walls),
            "cpu_s": statistics.median(r["cpu"] for r in rs),
            "load_avg": statistics.median(r["load"] for r in rs),
            "repeats": len(rs),
            **checks[name],
        }
    ref = summary["reference numpy loop"]["median_s"]
    for s in summary.values():
        s["speedup_vs_reference"] = ref / s["median_s"]
    res["sde"] = summary
    res["float32_accuracy"] = float32_accuracy(20_000 if args.quick else 200_000)
    OUT.mkdir(exist_ok=True)
    (OUT / "sde.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    (OUT / "sde.md").write_text(markdown(res))
    print(markdown(res))


def markdown(res: dict) -> str:
    m, p = res["machine"], res["problem"]
    lines = [
        "# SDE engine benchmark (bench/bench_sde.py)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, numpy {m['numpy']}, torch {m['torch']}, "
        f"CUDA {m['cuda']}. Shared with other jobs: the load average is listed per row.",
        f"Problem: {p['particles']:.0e} particles x {p['steps']:.0e} steps, {p['dim']}-D OU, "
        f"alpha {p['alpha']}, beta {p['beta']}, h {p['step']} "
        f"({p['particles'] * p['steps'] * p['dim']:.0e} stable variates).",
        "",
        "| variant | median s | min s | CPU s | load | speed-up vs reference | fit "
        "alpha, beta, scale (exact scale) | max abs z |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in res["sde"].items():
        lines.append(
            f"| {name} | {s['median_s']:.2f} | {s['min_s']:.2f} | {s['cpu_s']:.2f} | "
            f"{s['load_avg']:.1f} | {s['speedup_vs_reference']:.2f}x | {s['alpha']:.3f}, "
            f"{s['beta']:+.3f}, {s['scale']:.4f} ({s['exact_scale']:.4f}) | {s['max_abs_z']:.1f} |"
        )
    lines += ["", "Sampler throughput (M variates/s, best of the repeats):", ""]
    lines += [f"- {k}: {v}" for k, v in res["sampler_Mvariates_per_s"].items()]
    lines += [
        "",
        "float32 vs float64 noise, OU alpha 1.2 beta 1 (mean bias closed form 0; stable-CLT CI):",
        "",
        "| noise | s | mean bias [95% CI] | fit scale (exact) | fit alpha, beta |",
        "|---|---|---|---|---|",
    ]
    for r in res["float32_accuracy"]:
        lines.append(
            f"| {r['noise_dtype']} | {r['seconds']} | {r['mean_bias']:+.4f} "
            f"[{r['mean_ci'][0]:+.4f}, {r['mean_ci'][1]:+.4f}] | {r['fit_scale']:.4f} "
            f"({r['exact_scale']:.4f}) | {r['fit_alpha']:.3f}, {r['fit_beta']:+.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

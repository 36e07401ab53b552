"""Calibration of the tail and skew verdicts (gnitails.tails) -> bench/results/tails.{json,md}.

The false-positive rates of "heavy" and "skewed" on Gaussian noise with the scale structure of
the real noise (log-normal rank-1 scales spanning orders of magnitude, 10% dead rows), at every
shape the default config dumps (K = 64 draws), with more repeats than tests/test_tails.py can
afford; and the rates the criterion it replaced (the 95% Cramér–Rao interval of the pooled
view's alpha-hat below 2, or of beta-hat excluding 0) gives on the same data.

    .venv/bin/python bench/bench_tails.py [--repeats 60] [--n-null 79] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import stats

from gnitails.stable import fit
from gnitails.stats import binomial_ci
from gnitails.tails import TailTest, tail_tests, view_sample
from machine import describe

OUT = Path(__file__).parent / "results"
K = 64
SHAPES = [(64, 1), (64,), (64, 64), (1, 64), (1,), (32, 64), (32,), (10, 32), (10,)]


def scaled_gaussian_noise(shape, rng):
    rows = shape[0]
    cols = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    r, c = np.exp(rng.normal(0, 1.5, rows)), np.exp(rng.normal(0, 1.5, cols))
    if rows > 2:
        r[rng.random(rows) < 0.1] = 0.0
    x = np.outer(r, c) * rng.standard_normal((K, rows, cols))
    return x.reshape(K, *shape).astype(np.float32)


def crb_verdicts(arr) -> tuple[bool, bool] | None:
    """The replaced criterion on the pooled view: CRB 95% CI of alpha below 2, of beta off 0."""
    x = view_sample(arr, "pooled")
    if x is None:
        return None
    ci = fit(x, uncertainty="crb").ci95
    return ci["alpha"][1] < 2, ci["beta"][0] > 0 or ci["beta"][1] < 0


def run(repeats: int, n_null: int) -> list[dict]:
    rows = []
    for shape in SHAPES:
        rng = np.random.default_rng(sum(shape) + 1000)
        counts: dict = {}
        start = time.perf_counter()
        for rep in range(repeats):
            arr = scaled_gaussian_noise(shape, rng)
            for view, t in tail_tests(arr, n_null, "bench", shape, rep).items():
                if isinstance(t, TailTest):
                    c = counts.setdefault(view, np.zeros(4, int))
                    c += [1, t.heavy, t.skewed, t.heavy or t.skewed]
            old = crb_verdicts(arr)
            if old is not None:
                c = counts.setdefault("pooled, CRB criterion", np.zeros(4, int))
                c += [1, old[0], old[1], old[0] or old[1]]
        seconds = time.perf_counter() - start
        for view, (n, heavy, skewed, either) in counts.items():
            hi = stats.binom.ppf(0.975, n, 0.1) / n  # what a 10% rate could show
            rows.append(
                {
                    "shape": "x".join(map(str, shape)),
                    "view": view,
                    "repeats": int(n),
                    "heavy": heavy / n,
                    "skewed": skewed / n,
                    "either": either / n,
                    "either_ci": [float(v) for v in binomial_ci(either, n)],
                    "within_10pct": bool(either / n <= hi),
                    "seconds": seconds,
                }
            )
            print(rows[-1], flush=True)
    return rows


def write(rows: list[dict], repeats: int, n_null: int, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    meta = {"repeats": repeats, "n_null": n_null, "draws": K, "machine": describe()}
    (OUT / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# False positives of the tail and skew verdicts on Gaussian noise",
        "",
        f"{repeats} repeats per shape, {n_null} null replicates, K = {K} draws; Gaussian noise "
        "with log-normal rank-1 scales (sd 1.5 in log) and 10% dead rows. Rates of 'heavy' "
        "(alpha-hat below the null's 2.5% quantile), 'skewed' (beta-hat outside its 2.5-97.5%) "
        "and either, with the Clopper-Pearson 95% CI of the last; the nominal rate of either is "
        "at most 7.5%, the target at most 10%. 'pooled, CRB criterion': the verdict this "
        "replaced (95% Cramér–Rao interval of alpha-hat below 2, of beta-hat excluding 0).",
        "",
        "| shape | view | repeats | heavy | skewed | either [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["either_ci"]
        lines.append(
            f"| {r['shape']} | {r['view']} | {r['repeats']} | {r['heavy']:.3f} | "
            f"{r['skewed']:.3f} | {r['either']:.3f} [{lo:.3f}, {hi:.3f}] |"
        )
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=60)
    ap.add_argument("--n-null", type=int, default=79)
    ap.add_argument("--quick", action="store_true", help="20 repeats, 39 replicates")
    args = ap.parse_args()
    repeats, n_null = (20, 39) if args.quick else (args.repeats, args.n_null)
    name = "tails_quick" if args.quick else "tails"
    write(run(repeats, n_null), repeats, n_null, name)


if __name__ == "__main__":
    main()

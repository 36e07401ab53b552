"""Coverage and cost of the default 95% intervals of ``gnitails.stable.fit``; batch-fit speed.

    .venv/bin/python bench/bench_coverage.py            # full: 200 repeats a cell, ~10 min
    .venv/bin/python bench/bench_coverage.py --quick    # 40 repeats, no n = 1e6, ~1-2 min

1. **Coverage.** For every cell (alpha, beta, n) of the target grid (alpha in {1.5, 1.9, 1.98,
   2}, beta in {0, 0.5}, n in {1e3, 1e5}) and of an extra grid (|beta| = 1, alpha < 1.1, small
   n), ``reps`` S1 samples (scale 1, loc 0) are fitted with the defaults (``fit(x)``), and we
   count how often each 95% interval holds the truth. At alpha = 2 the law does not depend on
   beta, so *every* beta in [-1, 1] is a true value: the beta coverage there is the smallest,
   over beta0 in {-1, -0.5, 0, 0.5, 1}, of the fraction of intervals holding beta0. The same
   run also reports the coverage of the Cramer-Rao intervals (``uncertainty="crb"``, what
   ``fit`` returned by default before) at the same estimates. Target: 92-98% in every target
   cell; the binomial sd of a 95% coverage on 200 repeats is 1.5 points.
2. **Cost.** Mean wall time of a default fit over that of the point estimate alone
   (``uncertainty="none"``), the two interleaved on the same samples, at n in {1e3, 1e5, 1e6}
   and alpha in {0.9, 1.5, 1.98}. Target: <= 3x.
3. **fit_batch.** Rows per second of ``fit_batch`` against a loop of ``fit(row,
   uncertainty="none", moments=False)`` on the same rows, and the largest difference in alpha.

Writes bench/results/coverage.{json,md} (coverage_quick.* with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from gnitails.stable import crb_sd, fit, fit_batch, sample
from machine import describe, write_results

OUT = Path(__file__).resolve().parent / "results"
TARGET = [(a, b, n) for n in (1_000, 100_000) for a in (1.5, 1.9, 1.98, 2.0) for b in (0.0, 0.5)]
EXTRA = [
    (a, b, n)
    for n in (1_000, 100_000)
    for a, b in ((0.9, 0.5), (0.7, 0.9), (1.2, 1.0), (1.5, 1.0), (1.9, 1.0))
] + [(1.05, 0.5, 1_000), (1.5, 0.5, 100), (2.0, 0.0, 100), (1.9, 0.5, 300), (1.98, 0.5, 10_000)]
BETA0_AT_2 = (-1.0, -0.5, 0.0, 0.5, 1.0)
NAMES = ("alpha", "beta", "scale", "loc")
Z95 = 1.959963984540054


def _inside(ci: tuple[float, float], v: float) -> bool:
    return ci[0] <= v <= ci[1]


def coverage_cell(alpha: float, beta: float, n: int, reps: int, seed: int) -> dict:
    """Coverage of the default and of the CRB intervals over ``reps`` samples of one law."""
    truth = {"alpha": alpha, "beta": beta, "scale": 1.0, "loc": 0.0}
    hits = {k: 0 for k in NAMES}
    crb_hits = {"alpha": 0, "beta": 0}
    beta0_hits = dict.fromkeys(BETA0_AT_2, 0)
    widths, full_beta, clipped = [], 0, {"alpha": 0, "beta": 0}
    for r in range(reps):
        x = sample(alpha, beta, 1.0, 0.0, n, seed=(seed, int(alpha * 1000), int(beta * 10), n, r))
        f = fit(x, moments=False)
        for k in NAMES:
            hits[k] += _inside(f.ci95[k], truth[k])
        for b0 in BETA0_AT_2:
            beta0_hits[b0] += _inside(f.ci95["beta"], b0)
        crb = crb_sd(f.alpha, f.beta, f.scale, n)  # the old default, at the same estimate
        for k in crb_hits:
            v = getattr(f, k)
            crb_hits[k] += _inside((v - Z95 * crb[k], v + Z95 * crb[k]), truth[k])
        widths.append(f.ci95["alpha"][1] - f.ci95["alpha"][0])
        full_beta += f.ci95["beta"] == (-1.0, 1.0)
        for k in clipped:
            clipped[k] += k in f.info.get("clipped", [])
    cov = {k: v / reps for k, v in hits.items()}
    if alpha == 2.0:  # every beta is true: the worst beta0 counts
        cov["beta_at_simulated"] = cov["beta"]
        cov["beta"] = min(v / reps for v in beta0_hits.values())
    return {
        "alpha": alpha,
        "beta": beta,
        "n": n,
        "reps": reps,
        "coverage": cov,
        "crb_coverage": {k: v / reps for k, v in crb_hits.items()},
        "median_alpha_width": float(np.median(widths)),
        "beta_full_range": full_beta / reps,
        "clipped": {k: v / reps for k, v in clipped.items()},
    }


def cost(n: int, alpha: float, reps: int, seed: int) -> dict:
    """Mean wall time of fit(x) (default) and fit(x, uncertainty="none"), interleaved."""
    t_none, t_auto = [], []
    for r in range(reps):
        x = sample(alpha, 0.3, 1.0, 0.0, n, seed=(seed, n, int(alpha * 100), r))
        order = ("none", "auto") if r % 2 == 0 else ("auto", "none")
        for u in order:
            t = time.perf_counter()
            fit(x, uncertainty=u, moments=False)
            (t_none if u == "none" else t_auto).append(time.perf_counter() - t)
    return {
        "n": n,
        "alpha": alpha,
        "reps": reps,
        "none_ms": 1e3 * float(np.mean(t_none)),
        "auto_ms": 1e3 * float(np.mean(t_auto)),
        "ratio": float(np.mean(t_auto) / np.mean(t_none)),
    }


def batch_speed(n: int, rows: int, seed: int) -> dict:
    x = np.stack([sample(1.7, 0.3, 1.0, 0.0, n, seed=(seed, n, r)) for r in range(rows)])
    t = time.perf_counter()
    got = fit_batch(x)
    t_batch = time.perf_counter() - t
    t = time.perf_counter()
    loop = np.array([fit(row, uncertainty="none", moments=False).alpha for row in x])
    t_loop = time.perf_counter() - t
    return {
        "n": n,
        "rows": rows,
        "batch_s": t_batch,
        "loop_s": t_loop,
        "speedup": t_loop / t_batch,
        "max_abs_diff_alpha": float(np.max(np.abs(got["alpha"] - loop))),
    }


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def markdown(res: dict) -> str:
    m = res["machine"]
    out = [
        "# Coverage of the default intervals of `gnitails.stable.fit`",
        "",
        f"Mode: {res['mode']}; {res['total_s']:.0f} s in all. Machine: {m['cores']} cores "
        f"({m['cpu']}), Python {m['python']}, numpy {m['numpy']}; load average "
        f"{m['loadavg_start'][0]:.1f} at the start, {res['loadavg_end'][0]:.1f} at the end.",
        'Made by `bench/bench_coverage.py`; method ecf, defaults (`uncertainty="auto"`, '
        "reported as `calibrated`).",
        "",
        "## Coverage of the 95% intervals (%)",
        "",
        "Target 92-98 in every row of the first table. At alpha = 2 the beta column is the "
        'worst over beta0 in {-1, -0.5, 0, 0.5, 1} (every beta is true there). "CRB" is the '
        'Cramer-Rao interval at the same estimates (the previous default). "beta = [-1, 1]" is '
        "how often the beta interval was the whole range. The CRB is not available below "
        "alpha 1.1 (NaN: counted as not covering).",
        "",
    ]
    for title, key in (("Target grid", "target"), ("Extra cells", "extra")):
        out += [
            f"### {title} ({res[key][0]['reps']} repeats a cell)",
            "",
            "| alpha | beta | n | alpha | beta | scale | loc | CRB alpha | CRB beta "
            "| beta = [-1, 1] | median alpha width |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in res[key]:
            cv, cr = c["coverage"], c["crb_coverage"]
            out.append(
                f"| {c['alpha']} | {c['beta']} | {c['n']:.0e} | {_pct(cv['alpha'])} | "
                f"{_pct(cv['beta'])} | {_pct(cv['scale'])} | {_pct(cv['loc'])} | "
                f"{_pct(cr['alpha'])} | {_pct(cr['beta'])} | {_pct(c['beta_full_range'])} | "
                f"{c['median_alpha_width']:.3g} |"
            )
        out.append("")
    if "band" in res:
        b = res["band"]
        out += [
            f"Target cells within 92-98%: alpha {b['alpha_in']} of {b['cells']}, beta "
            f"{b['beta_in']} of {b['cells']}; outside: {', '.join(b['outside']) or 'none'}.",
            "",
        ]
    out += [
        "## Cost of a default fit relative to the point estimate",
        "",
        "| n | alpha | point estimate (ms) | default fit (ms) | ratio |",
        "|---|---|---|---|---|",
    ]
    for c in res["cost"]:
        out.append(
            f"| {c['n']:.0e} | {c['alpha']} | {c['none_ms']:.1f} | {c['auto_ms']:.1f} "
            f"| {c['ratio']:.2f} |"
        )
    out += [
        "",
        f"Largest ratio: {max(c['ratio'] for c in res['cost']):.2f} (target <= 3).",
        "",
        "## fit_batch against a loop of fit",
        "",
        "| n | rows | fit_batch (s) | loop of fit (s) | speed-up | max abs diff in alpha |",
        "|---|---|---|---|---|---|",
    ]
    for c in res["batch"]:
        out.append(
            f"| {c['n']} | {c['rows']} | {c['batch_s']:.2f} | {c['loop_s']:.2f} | "
            f"{c['speedup']:.1f}x | {c['max_abs_diff_alpha']:.1e} |"
        )
    return "\n".join(out) + "\n"


def band(cells: list[dict]) -> dict:
    ok = {k: [0.92 <= c["coverage"][k] <= 0.98 for c in cells] for k in ("alpha", "beta")}
    outside = [
        f"{k} at ({c['alpha']}, {c['beta']}, {c['n']:.0e}): {_pct(c['coverage'][k])}"
        for k in ("alpha", "beta")
        for c, good in zip(cells, ok[k], strict=True)
        if not good
    ]
    return {
        "cells": len(cells),
        "alpha_in": sum(ok["alpha"]),
        "beta_in": sum(ok["beta"]),
        "outside": outside,
    }


def render(stem: str) -> None:
    """Rewrite results/<stem>.md from results/<stem>.json (after editing ``markdown``)."""
    res = json.loads((OUT / f"{stem}.json").read_text())
    (OUT / f"{stem}.md").write_text(markdown(res))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 repeats, no n = 1e6 (~1-2 min)")
    a = ap.parse_args(argv)
    q = a.quick
    t0 = time.perf_counter()
    res = {"mode": "quick" if q else "full", "machine": describe()}
    reps = 40 if q else 200
    for key, cells, seed in (("target", TARGET, 1), ("extra", EXTRA, 2)):
        res[key] = []
        for alpha, beta, n in cells:
            t = time.perf_counter()
            res[key].append(
                coverage_cell(alpha, beta, n, reps if key == "target" else reps // 2, seed)
            )
            c = res[key][-1]["coverage"]
            print(f"{key} ({alpha}, {beta}, {n:.0e}): alpha {c['alpha']:.3f} beta "
                  f"{c['beta']:.3f} ({time.perf_counter() - t:.0f} s)", flush=True)  # fmt: skip
    res["band"] = band(res["target"])
    res["cost"] = []
    for n in (1_000, 100_000) + (() if q else (1_000_000,)):
        for alpha in (0.9, 1.5, 1.98):
            res["cost"].append(cost(n, alpha, 10 if q else (40 if n < 10**6 else 15), seed=3))
            print("cost", res["cost"][-1], flush=True)
    res["batch"] = [
        batch_speed(n, rows, seed=4)
        for n, rows in ((100, 400), (1_000, 200), (20_000, 40 if q else 100))
    ]
    res["loadavg_end"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t0
    write_results("coverage_quick" if q else "coverage", res, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Write the README's results block from results/ (never pasted by hand).

    python tools/readme_results.py [--results results] [--also OTHER_RESULTS ...] [--check]

Replaces the text between ``<!-- results:begin -->`` and ``<!-- results:end -->`` in README.md
with the claims table of ``--results`` (results/tables/table_claims.csv), the explicit-effect
table if present, and, for each ``--also`` folder (another run of the same config, e.g. on
another machine), how many verdicts agree and how far the estimates moved. Copies the figures
to docs/figures/. ``--check`` writes nothing and exits 1 if the README is out of date.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
KEY = ["claim", "experiment"]


def claims(results: Path) -> pd.DataFrame:
    path = results / "tables" / "table_claims.csv"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run the pipeline first (make run)")
    return pd.read_csv(path)


def claims_block(results: Path) -> list[str]:
    md = (results / "tables" / "table_claims.md").read_text().splitlines()
    table = [line for line in md if line.startswith("|")]
    return [
        f"From `{results.name}/tables/table_claims.md` (95% intervals; paired over seeds where "
        "runs are compared):",
        "",
        *table,
    ]


def spread_block(base: pd.DataFrame, others: dict[str, pd.DataFrame]) -> list[str]:
    """Run-to-run agreement of the verdicts and the estimates' movement, per other run."""
    lines = ["", "Run-to-run spread (the same config run again):", ""]
    lines += [
        "| other run | verdicts that agree | claims that differ | largest change of an estimate |",
        "|---|---|---|---|",
    ]
    for name, other in others.items():
        both = base.merge(other, on=KEY, suffixes=("", "_b"), how="outer", indicator=True)
        agree = (both["verdict"] == both["verdict_b"]) & (both["_merge"] == "both")
        differ = both[~agree]
        diff_text = "; ".join(
            f"{r.claim} ({r.experiment}): {r.verdict} → {r.verdict_b}" for r in differ.itertuples()
        )
        with np.errstate(invalid="ignore"):
            moved = (both["estimate"] - both["estimate_b"]).abs()
        finite = moved[np.isfinite(moved)]
        largest = f"{finite.max():.3g}" if len(finite) else "–"
        lines.append(
            f"| {name} | {int(agree.sum())} of {len(both)} | {diff_text or 'none'} | {largest} |"
        )
    return lines


def explicit_block(results: Path) -> list[str]:
    md = results / "tables" / "table_explicit_effect.md"
    if not md.is_file():
        return []
    table = [line for line in md.read_text().splitlines() if line.startswith("|")]
    return ["", "The explicit effect against R (`table_explicit_effect.md`):", "", *table]


def checks_block(results: Path) -> list[str]:
    """The replacement arms' kick check (xi against Z at every refit), over seeds and refits."""
    paths = sorted(results.glob("train/*/replace_*/replacement_checks.parquet"))
    if not paths:
        return []
    frames = []
    for path in paths:
        frame = pd.read_parquet(path)
        frame["experiment"], frame["arm"] = path.parts[-3], path.parts[-2]
        frames.append(frame)
    checks = pd.concat(frames, ignore_index=True).dropna(subset=["norm_ratio"])
    lines = [
        "",
        "The replacement arms' noise ξ against the real noise Z at every refit "
        "(`replacement_checks.parquet`; ratios of ξ to Z per tensor, over all seeds and refits):",
        "",
        "| experiment | arm | tensor × refits | norm ratio: median [min, max] "
        "| 99% quantile ratio: median [min, max] |",
        "|---|---|---|---|---|",
    ]
    for (exp, arm), g in checks.groupby(["experiment", "arm"], sort=True):
        cells = [
            f"{g[c].median():.3g} [{g[c].min():.3g}, {g[c].max():.3g}]"
            for c in ("norm_ratio", "q99_ratio")
        ]
        lines.append(f"| {exp} | {arm} | {len(g)} | {cells[0]} | {cells[1]} |")
    return lines


def block(results: Path, also: list[Path]) -> str:
    lines = claims_block(results)
    if also:
        lines += spread_block(claims(results), {p.as_posix(): claims(p) for p in also})
    lines += checks_block(results)
    lines += explicit_block(results)
    return "\n".join([BEGIN, *lines, END])


def replace_block(readme: str, new: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + new + tail


def copy_figures(results: Path, dest: Path) -> None:
    for png in sorted((results / "figures").glob("*.png")):
        shutil.copyfile(png, dest / png.name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--also", type=Path, nargs="*", default=[], help="other runs' results")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    args = parser.parse_args(argv)
    claims(args.results)  # a clear error before anything is written
    old = args.readme.read_text()
    new = replace_block(old, block(args.results, args.also))
    if args.check:
        return 0 if new == old else 1
    args.readme.write_text(new)
    copy_figures(args.results, args.figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())

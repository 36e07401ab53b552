"""Per-rule wall times of the last pipeline run, from Snakemake's benchmark files.

    .venv/bin/python bench/pipeline_times.py [--total-seconds S] [--out FILE.md]

Sums the `s` column of benchmarks/{rule}/**.tsv per rule (CPU-seconds of jobs, which run side
by side, so the sum exceeds the wall time); pass the run's wall time to record it beside.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import pandas as pd


def rule_times(root: Path) -> pd.DataFrame:
    rows = []
    for tsv in sorted(root.glob("*/**/*.tsv")):
        rule = tsv.relative_to(root).parts[0]
        bench = pd.read_csv(tsv, sep="\t")
        rows.append({"rule": rule, "seconds": bench["s"].iloc[0], "cpu": bench["cpu_time"].iloc[0]})
    df = pd.DataFrame(rows)
    return (
        df.groupby("rule")
        .agg(
            jobs=("seconds", "count"),
            total=("seconds", "sum"),
            longest=("seconds", "max"),
            cpu=("cpu", "sum"),
        )
        .sort_values("total", ascending=False)
        .reset_index()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=Path, default=Path("benchmarks"))
    parser.add_argument("--total-seconds", type=float, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/pipeline_default.md"))
    parser.add_argument("--note", default="", help="how the machine was loaded, in words")
    args = parser.parse_args()
    table = rule_times(args.benchmarks)
    lines = [
        f"# Default pipeline: time per rule ({platform.machine()}, {os.cpu_count()} cores)",
        "",
    ]
    if args.total_seconds is not None:
        lines += [
            f"Wall time of `make run` from an empty results/: {args.total_seconds:.0f} s.",
            "",
        ]
    if args.note:
        lines += [args.note, ""]
    lines += [
        "| rule | jobs | total s | longest job s | CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.rule} | {r.jobs} | {r.total:.1f} | {r.longest:.1f} | {r.cpu:.1f} |"
        for r in table.itertuples()
    ]
    lines += ["", "Figure and table rules have no benchmark file; each takes a few seconds."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

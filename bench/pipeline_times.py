"""Per-rule wall times of the last pipeline run, from Snakemake's benchmark files.

    .venv/bin/python bench/pipeline_times.py [--benchmarks DIR] [--before DIR] [--total-seconds S]
        [--log FILE] [--before-log FILE] [--note TEXT] [--title TEXT] [--out FILE.md]

Sums the `s` column of benchmarks/{rule}/**.tsv per rule (job seconds: jobs run side by side,
one thread each, so the sum exceeds the wall time) and the `cpu_time` column; pass the run's wall
time to record it beside. With --before, the benchmarks of an earlier run (e.g. of the code
before a change) give its columns per rule and the ratios, and the training jobs are compared
one by one. With --log (the run's .snakemake/log/*.log), the seconds during which the running
jobs' threads added up to fewer than the cores: time lost to the order in which the scheduler
started jobs.

Snakemake samples a job's CPU time every second for 30 s, then every 30 s, and keeps the last
sample: a long job's CPU time is undercounted by up to 30 s, a short job's is not. Compare runs
of different job lengths by job seconds on a quiet machine, not by CPU time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd


def job_table(root: Path) -> pd.DataFrame:
    """One row per benchmark file: its rule, its job (the wildcards' path), job and CPU s."""
    rows = []
    for tsv in sorted(root.glob("*/**/*.tsv")):
        rule, *job = tsv.relative_to(root).with_suffix("").parts
        bench = pd.read_csv(tsv, sep="\t")
        rows.append(
            {
                "rule": rule,
                "job": "/".join(job),
                "seconds": bench["s"].iloc[0],
                "cpu": bench["cpu_time"].iloc[0],
            }
        )
    return pd.DataFrame(rows)


def rule_times(jobs: pd.DataFrame) -> pd.DataFrame:
    return (
        jobs.groupby("rule")
        .agg(
            jobs=("seconds", "count"),
            total=("seconds", "sum"),
            longest=("seconds", "max"),
            cpu=("cpu", "sum"),
        )
        .sort_values("total", ascending=False)
        .reset_index()
    )


def job_times(jobs: pd.DataFrame, rule: str) -> pd.Series:
    """Job seconds of each job of ``rule``, indexed by its wildcards' path."""
    return jobs[jobs["rule"] == rule].set_index("job")["seconds"]


class Span(NamedTuple):
    rule: str
    start: datetime.datetime
    end: datetime.datetime
    threads: int


def log_spans(log: Path) -> list[Span]:
    """Every finished job of a Snakemake log: its rule, start, end (one-second stamps), threads."""
    stamp, job, starts, threads, spans = None, None, {}, {}, []
    for line in log.read_text().splitlines():
        if m := re.match(r"\[(\w+ \w+ +\d+ [\d:]+ \d+)\]", line):
            stamp = datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"\s*jobid: (\d+)", line):
            job = m.group(1)
            starts[job] = stamp
        elif (m := re.match(r"\s*threads: (\d+)", line)) and job is not None:
            threads[job] = int(m.group(1))
        elif (m := re.match(r"Finished jobid: (\d+) \(Rule: (\w+)\)", line)) and m[1] in starts:
            spans.append(Span(m[2], starts[m[1]], stamp, threads.get(m[1], 1)))
    return spans


def core_seconds_by_rule(spans: list[Span]) -> pd.DataFrame:
    """Per rule: jobs and seconds x threads held, from a log's spans (every rule, figure and
    table jobs included; a job of two threads holds two cores)."""
    rows = [
        {"rule": s.rule, "core_s": (s.end - s.start).total_seconds() * s.threads} for s in spans
    ]
    return (
        pd.DataFrame(rows).groupby("rule").agg(jobs=("core_s", "count"), core_s=("core_s", "sum"))
    )


def core_seconds(log: Path) -> float:
    """Seconds x threads held by all the jobs of a Snakemake log."""
    return float(core_seconds_by_rule(log_spans(log))["core_s"].sum())


def idle_core_seconds(spans: list[Span], cores: int) -> tuple[int, int]:
    """(wall seconds, seconds with fewer than ``cores`` threads' worth of jobs running) from a
    log's spans (a job counts its ``threads``)."""
    t0 = min(s.start for s in spans)
    wall = int(max((s.end - t0).total_seconds() for s in spans))
    busy = [0] * wall
    for span in spans:
        start, end = ((t - t0).total_seconds() for t in (span.start, span.end))
        for t in range(int(start), int(end)):
            busy[t] += span.threads
    return wall, sum(1 for n in busy if n < cores)


def core_table(spans: list[Span], before_spans: list[Span] | None) -> list[str]:
    """Markdown lines: core-seconds per rule of the run (and the run before)."""
    now = core_seconds_by_rule(spans)
    before = core_seconds_by_rule(before_spans) if before_spans is not None else None
    now = now.sort_values("core_s", ascending=False)
    head = "| rule | jobs | core s |" + (" core s before |" if before is not None else "")
    lines = [
        "",
        "Core-seconds per rule, from the log (seconds x threads: what a job keeps from the "
        "others; figure and table jobs included):",
        "",
        head,
        "|---|---:|---:|" + ("---:|" if before is not None else ""),
    ]
    for rule, r in now.iterrows():
        line = f"| {rule} | {int(r.jobs)} | {r.core_s:.0f} |"
        if before is not None:
            b = before["core_s"].get(rule)
            line += " - |" if b is None else f" {b:.0f} |"
        lines.append(line)
    total = f"| all | {now['jobs'].sum()} | {now['core_s'].sum():.0f} |"
    if before is not None:
        total += f" {before['core_s'].sum():.0f} |"
    return lines + [total]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=Path, default=Path("benchmarks"))
    parser.add_argument("--total-seconds", type=float, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/pipeline_default.md"))
    parser.add_argument("--note", default="", help="how the machine was loaded, in words")
    parser.add_argument("--title", default="Default pipeline", help="what was run")
    parser.add_argument("--before", type=Path, default=None, help="an earlier run's benchmarks")
    parser.add_argument("--log", type=Path, default=None, help="the run's Snakemake log")
    parser.add_argument("--before-log", type=Path, default=None, help="the earlier run's log")
    args = parser.parse_args()
    jobs_now = job_table(args.benchmarks)
    jobs_before = job_table(args.before) if args.before is not None else None
    table = rule_times(jobs_now)
    if jobs_before is not None:
        before = rule_times(jobs_before).set_index("rule")
        table["jobs_before"] = table["rule"].map(before["jobs"])
        table["total_before"] = table["rule"].map(before["total"])
        table["cpu_before"] = table["rule"].map(before["cpu"])
    lines = [
        f"# {args.title}: time per rule ({platform.machine()}, {os.cpu_count()} cores)",
        "",
    ]
    if args.total_seconds is not None:
        lines += [
            f"Wall time from an empty results/: {args.total_seconds:.0f} s.",
            "",
        ]
    if args.note:
        lines += [args.note, ""]
    lines += [
        "| rule | jobs | total s | longest job s | CPU s |"
        + (
            " jobs before | total s before | total before / now | CPU s before |"
            if args.before
            else ""
        ),
        "|---|---:|---:|---:|---:|" + ("---:|---:|---:|---:|" if args.before else ""),
    ]
    for r in table.itertuples():
        line = f"| {r.rule} | {r.jobs} | {r.total:.1f} | {r.longest:.1f} | {r.cpu:.1f} |"
        if args.before:
            line += (
                f" {r.jobs_before:.0f} | {r.total_before:.1f} | {r.total_before / r.total:.2f} |"
                f" {r.cpu_before:.1f} |"
            )
        lines.append(line)
    lines += [
        "",
        "Figure and table rules have no benchmark file; each takes a few seconds. CPU s: "
        "Snakemake's samples, which undercount a job longer than 30 s by up to 30 s (see "
        "bench/pipeline_times.py); job seconds are exact.",
    ]
    spans = log_spans(args.log) if args.log is not None else None
    before_spans = log_spans(args.before_log) if args.before_log is not None else None
    if spans is not None:
        lines += core_table(spans, before_spans)
    cores = os.cpu_count()
    for name, run_spans in (("this run", spans), ("the run before", before_spans)):
        if run_spans is not None:
            wall, short = idle_core_seconds(run_spans, cores)
            lines += [
                "",
                f"Scheduling, {name} (from its log): {wall} s from the first job's start to the "
                f"last job's end, {short} s of them with jobs of fewer than {cores} threads in all "
                "running.",
            ]
    if jobs_before is not None:
        now, before = job_times(jobs_now, "train"), job_times(jobs_before, "train")
        jobs = pd.DataFrame({"now": now, "before": before}).dropna()
        jobs = jobs.sort_values("before", ascending=False)
        lines += [
            "",
            "Training jobs, one by one (job seconds):",
            "",
            "| job | s | s before | before / now |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {job} | {r.now:.1f} | {r.before:.1f} | {r.before / r.now:.2f} |"
            for job, r in jobs.iterrows()
        ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

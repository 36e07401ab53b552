"""The arithmetic floor of the config's L~_M training jobs: for every experiment x M of a config,
a step as the training loop takes it, drawing its noise alone, and a clean step on the same
M x B rows (forward, backward, update without noise). Draw + clean step is the arithmetic an
L~_M step cannot avoid; the rest is injection and overhead that a faster loop could remove.

    .venv/bin/python bench/step_floor.py [--config config/config.yaml] [--benchmarks DIR --log FILE]

A job's floor is (draw + clean) x steps x seeds, one thread. ``--benchmarks`` and ``--log``: a
pipeline run's benchmarks/ folder and Snakemake log, to set the floors beside the measured job
seconds and bound the wall time the run could reach with every L~_M job at its floor. Writes
bench/results/step_floor.{json,md}.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from bench_training import Cases, time_cases
from gnitails.config import load_config
from gnitails.data.prepare import prepare_dataset
from gnitails.gni import tile
from gnitails.runs import RunSpec, planned_runs
from gnitails.training import TrainingSpec, _SeedRun, _sgd_step
from machine import describe, write_results
from pipeline_times import core_seconds, job_table, job_times

ROOT = Path(__file__).resolve().parent.parent
ROUND_S = 0.1  # seconds of calls per case and round, whatever the step costs


def lm_jobs(config: dict) -> list[dict]:
    """Every L~_M training job of ``config``: experiment, M, steps and seeds."""
    jobs = []
    for name, exp in config["experiments"].items():
        for run in planned_runs(exp):
            if run.rule == "gni_m":
                jobs.append({"experiment": name, "run": run.name, "m": run.m})
    return jobs


def step_cases(exp: dict, data, run: str) -> tuple[Cases, int]:
    """The three cases of one job's step, on seed 0 of the job as training builds it (net,
    noise, whole training batch), and its steps per seed. L~_M runs are full-batch."""
    spec = TrainingSpec.from_config(exp["training"])
    if spec.batch_size is not None:
        raise ValueError("step_floor times full-batch L~_M runs; this one has minibatches")
    total = spec.total_steps(len(data.x_train))
    seed_run = _SeedRun(exp, data, RunSpec.parse(run), 0, spec, total, (), torch.device("cpu"),
                        log=lambda _msg: None, label=run)  # fmt: skip
    variant, x, y = seed_run.variant, seed_run.x_train, seed_run.y_train
    xm, ym = tile(x, variant.m), tile(y, variant.m)

    def clean_step() -> None:  # the same update without noise
        for p in seed_run.params:
            p.grad = None
        variant.loss_fn(seed_run.net(xm), ym).mean().backward()
        _sgd_step(seed_run.params, lr=1e-6)

    cases = Cases()
    cases.add("step", seed_run.sgd_step)  # the training loop's own step
    cases.add("draw noise", lambda: variant.sampler.draw(variant.m * len(x)))
    cases.add("clean step, same rows", clean_step)
    return cases, total


def measured_job_s(benchmarks: Path | None) -> dict[str, float]:
    """Training job seconds by ``experiment/run`` from a pipeline run's benchmark files."""
    if benchmarks is None:
        return {}
    return job_times(job_table(benchmarks), "train").to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--benchmarks", type=Path, help="a pipeline run's benchmarks/ folder")
    parser.add_argument("--log", type=Path, help="the same run's Snakemake log")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    shown = os.path.relpath(args.config, ROOT)  # as the README names it
    res = {"machine": describe(), "config": shown, "rounds": args.rounds, "jobs": []}
    datasets, measured = {}, measured_job_s(args.benchmarks)
    for job in lm_jobs(config):
        exp = config["experiments"][job["experiment"]]
        ds = exp["dataset"]
        if ds not in datasets:
            datasets[ds] = prepare_dataset(ds, config["datasets"][ds])
        cases, steps = step_cases(exp, datasets[ds], job["run"])
        probe = time_cases(cases, rounds=1, reps=3, device="cpu")  # sizes the rounds
        reps = max(3, round(ROUND_S / max(probe.values())))
        t = time_cases(cases, rounds=args.rounds, reps=reps, device="cpu")
        job_steps = steps * len(exp["seeds"])
        floor_ms = 1e3 * (t["draw noise"] + t["clean step, same rows"])
        res["jobs"].append(
            {
                **job,
                "job_steps": job_steps,
                **{f"{k} ms": 1e3 * v for k, v in t.items()},
                "floor_job_s": floor_ms * job_steps / 1e3,
                "step_job_s": 1e3 * t["step"] * job_steps / 1e3,
                "measured_job_s": measured.get(f"{job['experiment']}/{job['run']}"),
            }
        )
        print(res["jobs"][-1], flush=True)
    if args.log is not None:
        res["pipeline_core_s"] = core_seconds(args.log)
    res["machine"]["loadavg_end"] = os.getloadavg()
    write_results("step_floor", res, markdown)


def markdown(res: dict) -> str:
    m = res["machine"]
    jobs = res["jobs"]
    lines = [
        f"# The L~_M training jobs' arithmetic floor ({res['config']}, bench/step_floor.py)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, one thread; load average "
        f"{m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end. Per step: "
        f"median ms over {res['rounds']} interleaved rounds of about {ROUND_S} s of calls each, "
        "on the job's net, noise and whole training set. Job s = ms x steps x seeds.",
        "",
        "Measured job s: the pipeline run given by --benchmarks.",
        "",
        "| job | M | step ms | draw noise ms | clean step, same rows ms | (draw + clean) / step "
        "| step, job s | floor (draw + clean), job s | measured job s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for j in jobs:
        floor = j["draw noise ms"] + j["clean step, same rows ms"]
        measured = "-" if j["measured_job_s"] is None else f"{j['measured_job_s']:.1f}"
        lines.append(
            f"| {j['experiment']}/{j['run']} | {j['m']} | {j['step ms']:.3f} | "
            f"{j['draw noise ms']:.3f} | {j['clean step, same rows ms']:.3f} | "
            f"{floor / j['step ms']:.2f} | {j['step_job_s']:.1f} | {j['floor_job_s']:.1f} | "
            f"{measured} |"
        )
    floor_total = sum(j["floor_job_s"] for j in jobs)
    lines += ["", f"The L~_M jobs' floors add up to {floor_total:.0f} job-seconds."]
    if "pipeline_core_s" in res and all(j["measured_job_s"] is not None for j in jobs):
        measured = sum(j["measured_job_s"] for j in jobs)
        core_s = res["pipeline_core_s"]
        rest = core_s - measured
        cores = m["cores"]
        lines += [
            "",
            f"In the pipeline run given (--benchmarks, --log) they took {measured:.0f} "
            f"job-seconds of the {core_s:.0f} core-seconds that all its jobs held (seconds x "
            f"threads, from the log). With every L~_M job at its "
            f"floor and every other job unchanged, the run would need "
            f"{rest + floor_total:.0f} core-seconds: at least {(rest + floor_total) / cores:.0f} "
            f"s of wall time on {cores} cores, however the jobs are scheduled.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

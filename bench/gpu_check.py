"""GPU benchmarks and the estimate of config/paper.yaml's wall time on one GPU.

Run by bench/gpu_check.sh (which first runs the `cuda`-marked tests and passes their summary
here). Reuses the timing code of bench_training / bench_noise / the SDE and stable benches.

    .venv/bin/python bench/gpu_check.py [--dry] [--out FILE] [--tests FILE --tests-rc N]

Without a CUDA device, or with --dry, every case runs on the CPU at tiny sizes: the file is
then written to show that the script works, and says so at its top; its numbers mean nothing
for a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench_sde import ALPHA, BETA, H
from bench_training import conv_cases, sinusoid_cases, sync, time_cases
from gnitails.config import load_config
from gnitails.gni import NoiseSpec
from gnitails.models import ModelSpec, build_model
from gnitails.runs import planned_runs
from gnitails.sde import Quadratic, simulate
from gnitails.stable import sample
from gnitails.training import TrainingSpec
from machine import RESULTS, describe

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
# Training-set sizes of the experiments whose budget is in epochs (the rest give steps).
N_TRAIN = {"cifar10": 50_000, "svhn": 73_257}
GPU_SIZES = {
    "rounds": 5,
    "reps": 20,
    "conv_batch": 512,
    "sde": (100_000, 10_000),
    "sample": 10**8,
    "noise": (256, 6, 1, 10, 100),
    "lockstep": (5, 200),  # seeds, steps
}
DRY_SIZES = {
    "rounds": 1,
    "reps": 2,
    "conv_batch": 8,
    "sde": (1_000, 100),
    "sample": 10**5,
    "noise": (16, 2, 1, 2, 4),
    "lockstep": (2, 2),
}


def training(device: str, sz: dict) -> dict[str, float]:
    """Seconds per SGD step: the paper's 6x256 sinusoid net (M = 1, 16) and its conv net."""
    keep = ("clean step", "M=1 tiled", "M=16 tiled")
    cases = sinusoid_cases(device, (1, 16))
    cases.fns = {k: v for k, v in cases.fns.items() if k in keep}
    t = time_cases(cases, sz["rounds"], sz["reps"], device)
    conv = conv_cases(device, sz["conv_batch"])
    conv.fns = {k.split(": ", 1)[1]: v for k, v in conv.fns.items() if "hutchinson" not in k}
    t.update({f"conv {k}": v for k, v in time_cases(conv, sz["rounds"], 1, device).items()})
    return t


def lockstep_training(device: str, sz: dict) -> dict:
    """Seconds per step per seed of the paper's 6x256 net trained seed by seed (the pipeline)
    and in lockstep (bench_lockstep: seeds stacked, one vmap'd step), M = 1 and 16."""
    from bench_lockstep import lockstep, per_seed_loop

    seeds, steps = sz["lockstep"]
    spec = ModelSpec.from_config({"arch": "mlp", "width": 256, "depth": 6, "activation": "relu"})
    nets = [build_model(spec, (1,), 1, generator=torch.Generator().manual_seed(s)).to(device)
            for s in range(seeds)]  # fmt: skip
    noise = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, nets[0].n_layers)
    x = torch.linspace(-3, 3, 200, device=device)[:, None]
    y, out = torch.sin(x), {}
    for m in (1, 16):
        for name, fn in (("per-seed loop", per_seed_loop), ("lockstep", lockstep)):
            args = (nets, noise, x, y, m, steps) + ((seeds,) if fn is lockstep else ())
            s = timed(lambda f=fn, a=args: f(*a), device, reps=1)
            out[f"M={m} {name}"] = s / (seeds * steps)
    return out


def timed(fn, device: str, reps: int = 3) -> float:
    """Median wall seconds of fn() over reps calls after one warm-up."""
    fn()
    out = []
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t)
    return float(np.median(out))


def noise(device: str, sz: dict) -> dict:
    from bench_noise import run_case

    width, depth, dim, k, m = sz["noise"]
    r = run_case(f"{width}x{depth}", width, depth, dim, k=k, m=m, reps=2, device=device)
    return {"case": r["case"], "k": k, "m": m, "times_s": r["times_s"], "ratios": r["ratios"]}


def sde(device: str, sz: dict) -> dict:
    n, steps = sz["sde"]

    def run():
        return simulate(
            Quadratic([1.0, 1.0]),
            ALPHA,
            BETA,
            1.0,
            H,
            n,
            steps,
            seed=0,
            backend="torch",
            device=device,
        )

    s = timed(run, device, reps=1)
    return {
        "particles": n,
        "steps": steps,
        "dim": 2,
        "seconds": s,
        "coordinate_steps_per_s": 2 * n * steps / s,
    }


def sampling(device: str, sz: dict) -> dict:
    n = sz["sample"]
    s = timed(
        lambda: sample(
            ALPHA, BETA, size=n, dtype=np.float32, seed=1, backend="torch", device=device
        ),
        device,
    )
    return {"variates": n, "seconds": s, "M_per_s": n / s / 1e6}


def step_seconds(t: dict, exp: dict, rule: str, m: int) -> tuple[float, str]:
    """Seconds per step of one run, from the measured cases, and how it was derived."""
    if exp["model"]["arch"] == "convnet":
        if rule == "explicit":
            return t["conv L+R exact"], "conv L+R exact"
        return t["conv clean step"], "conv clean step"
    # MLPs: a tiled L~_M step is linear in M (one batch of M x N rows); the replacement arms
    # take the L~_16 mean each step. Smaller MLPs than 6x256 are charged as 6x256 (on a GPU
    # both are launch-bound, so this is close, not a lower bound).
    if rule.startswith("replace"):
        m = 16
    t1, t16 = t["M=1 tiled"], t["M=16 tiled"]
    return t1 + (t16 - t1) * (m - 1) / 15, f"6x256, M={m}"


def _dim(potential: dict) -> int:
    c = potential.get("curvature", 1.0)  # a list of curvatures: one per dimension
    return len(c) if isinstance(c, list) else 1


def paper_estimate(t: dict, sde_rate: float) -> dict:
    """Sum over config/paper.yaml's experiments x runs x seeds of steps x seconds per step, one
    run after another, plus the SDE studies at the measured coordinate-steps per second."""
    cfg = load_config(PAPER)  # validated: defaults filled from the schema
    rows, total = [], 0.0
    for name, exp in cfg["experiments"].items():
        spec = TrainingSpec.from_config(exp["training"])
        n_train = N_TRAIN.get(cfg["datasets"][exp["dataset"]]["source"], 0)
        for run in planned_runs(exp):
            steps = spec.total_steps(n_train)
            sec, how = step_seconds(t, exp, run.rule, run.m)
            seeds = len(exp["seeds"])
            rows.append(
                {
                    "experiment": name,
                    "run": run.name,
                    "steps": steps,
                    "seeds": seeds,
                    "s_per_step": sec,
                    "basis": how,
                    "hours": steps * seeds * sec / 3600,
                }
            )
            total += rows[-1]["hours"]
    sde_steps = sum(
        s["n_particles"] * s["n_steps"] * _dim(s["potential"]) for s in cfg.get("sde", {}).values()
    )
    sde_hours = sde_steps / sde_rate / 3600
    return {
        "runs": rows,
        "training_hours": total,
        "sde_coordinate_steps": sde_steps,
        "sde_hours": sde_hours,
        "total_hours": total + sde_hours,
    }


def markdown(res: dict) -> str:
    m, est, t = res["machine"], res["estimate"], res["training_s_per_step"]
    L = ["# GPU check", ""]
    if not res["gpu"]:
        L += [
            "**This run had no GPU**"
            + (" (--dry)" if res["dry"] else "")
            + ": every case ran on the CPU at tiny sizes to test the script. The numbers "
            "below mean nothing for a GPU; run `bench/gpu_check.sh` on a CUDA machine.",
            "",
        ]
    L += [
        f"Device: {res['device_name']}. Machine: {m['cpu']}, {m['cores']} cores, torch "
        f"{m['torch']}, load average at start {tuple(round(v, 2) for v in m['loadavg_start'])}."
        f" Total {res['total_s']:.0f} s.",
        "",
        f"## CUDA-path tests (`pytest -m cuda`): exit code {res['tests_rc']}",
        "",
        "```",
        res["tests"].strip() or "(not run)",
        "```",
        "",
        "## Training steps (one full SGD step; median of interleaved rounds)",
        "",
        "| case | ms/step | steps/s |",
        "|---|---|---|",
    ]
    L += [f"| {k} | {v * 1e3:.2f} | {1 / v:.0f} |" for k, v in t.items()]
    seeds, steps = res["sizes"]["lockstep"]
    L += ["", f"## Lockstep training, 6x256, {seeds} seeds x {steps} steps (bench_lockstep)", "",
          "| case | ms per step per seed | steps/s per seed |", "|---|---|---|"]  # fmt: skip
    L += [f"| {k} | {v * 1e3:.2f} | {1 / v:.0f} |" for k, v in res["lockstep"].items()]
    n, s, smp = res["noise"], res["sde"], res["sampling"]
    tn = n["times_s"]
    L += [
        "",
        f"## Noise dump ({n['case']}, K = {n['k']} draws, M = {n['m']})",
        "",
        f"- shared K+M: {tn['shared K+M'] * 1e3:.1f} ms; one Z (M draws): "
        f"{tn['Z one draw, M'] * 1e3:.1f} ms; Z_R: {tn['Z_R one draw'] * 1e3:.1f} ms "
        f"(Z/Z_R = {n['ratios']['Z(M) / Z_R']:.1f}x)",
        "",
        f"## SDE engine (torch): {s['particles']} particles x {s['steps']} steps x 2-D: "
        f"{s['seconds']:.2f} s, {s['coordinate_steps_per_s'] / 1e9:.2f} G coordinate-steps/s",
        "",
        f"## Stable sampler (torch, float32): {smp['variates']:.0e} variates in "
        f"{smp['seconds'] * 1e3:.1f} ms, {smp['M_per_s']:.0f} M/s",
        "",
        "## Estimate of config/paper.yaml on one GPU",
        "",
        "Arithmetic: for every experiment, run (config order, `planned_runs`) and seed, "
        "steps x seconds per step, summed as if run one after another (no lockstep of seeds, "
        "no evaluation or checkpoint cost, no noise dumps or fits); epoch budgets are epochs x "
        "ceil(n_train / batch) (CIFAR10 50,000 and SVHN 73,257 images). Seconds per step come "
        "from the table above: MLP runs use the 6x256 tiled step, linear in M between the "
        "measured M = 1 and M = 16 (replacement arms: M = 16, their L~_16 mean); conv runs "
        "the conv clean step (baseline, gni) or L+R exact (explicit) at batch "
        f"{res['sizes']['conv_batch']}. SDE studies: particles x steps x dimensions / the "
        "measured coordinate-steps per second.",
        "",
        "| experiment | run | steps | seeds | ms/step | basis | hours |",
        "|---|---|---|---|---|---|---|",
    ]
    L += [
        f"| {r['experiment']} | {r['run']} | {r['steps']} | {r['seeds']} | "
        f"{r['s_per_step'] * 1e3:.2f} | {r['basis']} | {r['hours']:.2f} |"
        for r in est["runs"]
    ]
    L += [
        "",
        f"Training {est['training_hours']:.1f} h + SDE studies "
        f"({est['sde_coordinate_steps']:.2e} coordinate-steps) {est['sde_hours']:.2f} h = "
        f"**{est['total_hours']:.1f} h** on one "
        + ("GPU." if res["gpu"] else "CPU core at tiny sizes (meaningless: no GPU)."),
    ]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="CPU, tiny sizes (also without CUDA)")
    ap.add_argument(
        "--out", type=Path, default=Path(os.environ.get("GPU_CHECK_OUT", RESULTS / "gpu.md"))
    )
    ap.add_argument("--tests", type=Path, help="pytest's output, copied into the file")
    ap.add_argument("--tests-rc", type=int, default=None)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    gpu = torch.cuda.is_available() and not a.dry
    device = "cuda" if gpu else "cpu"
    sz = GPU_SIZES if gpu else DRY_SIZES
    if not gpu:
        torch.set_num_threads(1)
    res = {
        "gpu": gpu,
        "dry": a.dry,
        "device": device,
        "sizes": sz,
        "machine": describe(),
        "device_name": torch.cuda.get_device_name() if gpu else "CPU (no GPU)",
    }
    res["tests"] = a.tests.read_text() if a.tests and a.tests.exists() else ""
    res["tests_rc"] = a.tests_rc
    for name, fn in (
        ("training_s_per_step", training),
        ("lockstep", lockstep_training),
        ("noise", noise),
        ("sde", sde),
        ("sampling", sampling),
    ):
        print(f"gpu_check: {name} on {device}", file=sys.stderr, flush=True)
        res[name] = fn(device, sz)
    res["estimate"] = paper_estimate(
        res["training_s_per_step"], res["sde"]["coordinate_steps_per_s"]
    )
    res["total_s"] = time.perf_counter() - t0
    a.out.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(res)
    a.out.write_text(text)
    a.out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training-step costs: M-draw GNI steps (tiled vs looped), noise drawing, and R.

    .venv/bin/python bench/bench_training.py            # ~1-2 min on 2 busy cores
    .venv/bin/python bench/bench_training.py --quick    # ~20-30 s, coarser
    .venv/bin/python bench/bench_training.py --device cuda
    .venv/bin/python bench/bench_training.py --retain-memory   # with gnitails.cpualloc

Writes bench/results/training.json and bench/results/training.md (``--out`` to change).
Every case is one full SGD step (forward, backward, update) as the training loop runs it.
Cases are timed in interleaved rounds and the median per-step time is kept, so a burst of
load from other processes hits every case alike; timings on a shared machine stay noisy.

Targets (CPU): an M-draw step costs <= 1.1 x M x the M = 1 step; drawing the noise takes
<= 15% of an M-draw step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from gnitails.cpualloc import retain_freed_memory
from gnitails.gni import NoiseSampler, NoiseSpec, noisy_forward, noisy_loss
from gnitails.losses import per_example_loss
from gnitails.models import build_convnet, build_mlp
from gnitails.regulariser import regulariser
from machine import describe

OUT = Path(__file__).resolve().parent / "results"


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def sgd_step(net, loss_fn: Callable[[], torch.Tensor], lr: float = 1e-4) -> None:
    for p in net.parameters():
        p.grad = None
    loss_fn().backward()
    with torch.no_grad():
        for p in net.parameters():
            p.sub_(lr * p.grad)


class Cases:
    """Named closures, each doing one unit of work (a step, or one noise draw)."""

    def __init__(self):
        self.fns: dict[str, Callable[[], None]] = {}

    def add(self, name: str, fn: Callable[[], None]) -> None:
        self.fns[name] = fn


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_cases(cases: Cases, rounds: int, reps: int, device: str) -> dict[str, float]:
    """Median seconds per call over ``rounds`` interleaved rounds of ``reps`` calls each."""
    for fn in cases.fns.values():  # warm-up (allocator, kernels)
        for _ in range(2):
            fn()
    sync(device)
    samples: dict[str, list[float]] = {k: [] for k in cases.fns}
    for _ in range(rounds):
        for name, fn in cases.fns.items():
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            sync(device)
            samples[name].append((time.perf_counter() - t0) / reps)
    return {k: statistics.median(v) for k, v in samples.items()}


def sinusoid_cases(device: str, ms: tuple[int, ...]) -> Cases:
    """The paper's L~_M net: 6 x 256 ReLU, 1-D sinusoids, N = 200 full batch, additive 0.1."""
    torch.manual_seed(0)
    n = 200
    net = build_mlp((1,), 1, width=256, depth=6).to(device)
    x = torch.rand(n, 1, device=device)
    y = torch.sin(20 * x)
    spec = NoiseSpec("additive", (0.1,) * 7 + (0.0,))
    loss = per_example_loss("regression")
    cases = Cases()
    cases.add("clean step", lambda: sgd_step(net, lambda: loss(net(x), y).mean()))
    for m in ms:
        sampler = NoiseSampler(spec, net.activation_shapes, gen(1, device), reuse_buffer=True)
        cases.add(
            f"M={m} tiled",
            lambda m=m, s=sampler: sgd_step(net, lambda: noisy_loss(net, x, y, loss, spec, m, s)),
        )
        cases.add(f"M={m} draw noise", lambda m=m, s=sampler: s.draw(m * n))
        if m > 1:
            cases.add(
                f"M={m} loop", lambda m=m, s=sampler: looped_step(net, x, y, loss, spec, m, s)
            )
    for estimator in ("exact", "hutchinson"):
        g = gen(2, device)
        cases.add(
            f"L+R {estimator}",
            lambda e=estimator, g=g: sgd_step(
                net, lambda: r_objective(net, x, y, loss, "regression", spec, e, g)
            ),
        )
    return cases


def looped_step(net, x, y, loss, spec, m, sampler) -> None:
    """One SGD step on L~_M with a Python loop over the M draws (backward per draw)."""
    b = len(x)
    eps = sampler.draw(m * b)
    for p in net.parameters():
        p.grad = None
    for d in range(m):
        eps_d = {k: e[d * b : (d + 1) * b] for k, e in eps.items()}
        (loss(noisy_forward(net, x, spec, eps_d), y).mean() / m).backward()
    with torch.no_grad():
        for p in net.parameters():
            p.sub_(1e-4 * p.grad)


def r_objective(net, x, y, loss, task, spec, estimator, generator) -> torch.Tensor:
    r, out = regulariser(net, x, task, spec, estimator=estimator, generator=generator)
    return loss(out, y).mean() + r


def r_cases(device: str, name: str, net, x, y, task: str, spec: NoiseSpec) -> Cases:
    loss = per_example_loss(task)
    cases = Cases()
    cases.add(f"{name}: clean step", lambda: sgd_step(net, lambda: loss(net(x), y).mean()))
    for estimator in ("exact", "hutchinson"):
        g = gen(3, device)
        cases.add(
            f"{name}: L+R {estimator}",
            lambda e=estimator, g=g: sgd_step(
                net, lambda: r_objective(net, x, y, loss, task, spec, e, g)
            ),
        )
    return cases


def conv_cases(device: str, batch: int) -> Cases:
    """The paper's conv net on 32 x 32 x 3 images, 10 classes, additive sigma^2 = 0.1."""
    torch.manual_seed(0)
    net = build_convnet((3, 32, 32), 10).to(device)
    x = torch.rand(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    spec = NoiseSpec("additive", (0.316,) * 3 + (0.0,))
    return r_cases(device, "conv 32x32 10 classes", net, x, y, "classification", spec)


def wide_output_cases(device: str) -> Cases:
    """The histogram notebook's net: 4 x 512 ReLU with 100 outputs (R with many outputs)."""
    torch.manual_seed(0)
    net = build_mlp((100,), 100, width=512, depth=4).to(device)
    x = torch.randn(200, 100, device=device)
    y = torch.randn(200, 100, device=device)
    spec = NoiseSpec("additive", (0.1,) * 5 + (0.0,))
    return r_cases(device, "mlp 4x512 100 outputs", net, x, y, "regression", spec)


def summarise(t: dict[str, float], ms: tuple[int, ...]) -> dict[str, float]:
    base = t["M=1 tiled"]
    ratios = {"M=1 tiled / clean step": base / t["clean step"]}
    for m in ms:
        if m == 1:
            ratios["noise draw share of M=1 step"] = t["M=1 draw noise"] / base
            continue
        ratios[f"M={m} tiled / (M x M=1)"] = t[f"M={m} tiled"] / (m * base)
        ratios[f"M={m} loop / (M x M=1)"] = t[f"M={m} loop"] / (m * base)
        ratios[f"M={m} tiled / loop"] = t[f"M={m} tiled"] / t[f"M={m} loop"]
        ratios[f"noise draw share of M={m} step"] = t[f"M={m} draw noise"] / t[f"M={m} tiled"]
    for key in list(t):
        if key.endswith("L+R exact") or key.endswith("L+R hutchinson"):
            prefix = key.rsplit("L+R", 1)[0]
            ratios[f"{key} / clean step"] = t[key] / t[f"{prefix}clean step"]
    return ratios


def markdown(result: dict) -> str:
    mach = result["machine"]
    lines = [
        "# Training-step benchmark",
        "",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, torch {mach['torch']}, "
        f"device {result['device']}, {result['threads']} thread(s); load average at start "
        f"{tuple(round(v, 2) for v in mach['loadavg_start'])}. Mode: {result['mode']}, "
        f"retain freed memory: {result['retain_memory']}. Other jobs shared the "
        "machine, so timings are noisy (interleaved rounds, median kept).",
        "",
        "| case | ms / step | steps / s |",
        "|---|---:|---:|",
    ]
    for name, sec in result["seconds_per_call"].items():
        rate = "" if "draw noise" in name else f"{1 / sec:.1f}"
        lines.append(f"| {name} | {1e3 * sec:.2f} | {rate} |")
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    for name, value in result["ratios"].items():
        target = ""
        if "tiled / (M x M=1)" in name:
            target = "<= 1.1"
        elif name.startswith("noise draw share"):
            target = "<= 0.15"
        lines.append(f"| {name} | {value:.3f} | {target} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--retain-memory",
        action="store_true",
        help="keep freed memory in the process (gnitails.cpualloc): fewer page faults",
    )
    args = parser.parse_args(argv)
    if args.retain_memory:
        retain_freed_memory()
    torch.set_num_threads(args.threads)
    ms = (1, 16)
    rounds, reps = (3, 3) if args.quick else (7, 5)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    for label, cases in (
        ("sinusoid 6x256", sinusoid_cases(args.device, ms)),
        ("conv net", conv_cases(args.device, batch=64 if args.quick else 128)),
        ("100 outputs", wide_output_cases(args.device)),
    ):
        print(f"timing {label} ...", file=sys.stderr, flush=True)
        r = max(1, rounds // 2) if label == "100 outputs" else rounds
        timings.update(time_cases(cases, r, 1 if label == "100 outputs" else reps, args.device))
    result = {
        "machine": describe(),
        "device": args.device,
        "threads": args.threads,
        "mode": "quick" if args.quick else "full",
        "retain_memory": args.retain_memory,
        "seconds_per_call": timings,
        "ratios": summarise(timings, ms),
        "bench_seconds": time.perf_counter() - t_start,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "training.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "training.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where an L~_M training step of the default sinusoid net spends its time: the whole step as
the training loop runs it, drawing the noise alone, and a clean step on the same M x B rows
(forward, backward, update without noise). Draw + clean step is the arithmetic an L~_M step
cannot avoid; the rest is injection and overhead that a faster loop could remove.

    .venv/bin/python bench/step_floor.py [--m 1 16] [--steps 15000]

``--steps``: the steps of one training job (seeds x steps a seed; the default config's
1500 x 10), to turn per-step times into job seconds. Writes bench/results/step_floor.{json,md}.
"""

from __future__ import annotations

import argparse
import os

import torch

from bench_training import Cases, time_cases
from gnitails.gni import NoiseSampler, NoiseSpec, injector, tile
from gnitails.losses import per_example_loss
from gnitails.models import ModelSpec, build_model
from gnitails.training import _sgd_step
from machine import describe, write_results

LOSS = per_example_loss("regression")


def default_sinusoid_net():
    """config/config.yaml's sin_add net and data shape: 4 x 64 ReLU, 200 points, additive 0.1."""
    spec = ModelSpec.from_config({"arch": "mlp", "width": 64, "depth": 4})
    net = build_model(spec, (1,), 1, generator=torch.Generator().manual_seed(0))
    noise = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, net.n_layers)
    x = torch.linspace(-3, 3, 200)[:, None]
    return net, noise, x, torch.sin(x)


def step_cases(m: int) -> Cases:
    net, noise, x, y = default_sinusoid_net()
    params = list(net.parameters())
    sampler = NoiseSampler(noise, net.activation_shapes, torch.Generator().manual_seed(1))
    xm, ym = tile(x, m), tile(y, m)

    def step(tap=None):  # as gnitails.training._train steps
        for p in params:
            p.grad = None
        LOSS(net(xm, tap=tap), ym).mean().backward()
        _sgd_step(params, lr=1e-4)

    cases = Cases()
    cases.add("step", lambda: step(injector(noise, sampler.draw(m * len(x)))))
    cases.add("draw noise", lambda: sampler.draw(m * len(x)))
    cases.add("clean step, same rows", step)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--steps", type=int, default=15000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    res = {"machine": describe(), "job_steps": args.steps, "cases": []}
    for m in args.m:
        t = time_cases(step_cases(m), rounds=7, reps=100, device="cpu")
        res["cases"].append({"m": m, **{k: v * 1e3 for k, v in t.items()}})
    res["machine"]["loadavg_end"] = os.getloadavg()
    write_results("step_floor", res, markdown)


def markdown(res: dict) -> str:
    m = res["machine"]
    steps = res["job_steps"]
    lines = [
        "# An L~_M step of the default sinusoid net (bench/step_floor.py)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, one thread; load average "
        f"{m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end. Median ms of "
        f"7 interleaved rounds of 100 calls; job s = ms x {steps} steps (a training job).",
        "",
        "| M | step ms | draw noise ms | clean step, same rows ms | draw + clean ms | "
        "(draw + clean) / step | step, job s | draw + clean, job s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in res["cases"]:
        floor = c["draw noise"] + c["clean step, same rows"]  # the step without injection
        lines.append(
            f"| {c['m']} | {c['step']:.3f} | {c['draw noise']:.3f} | "
            f"{c['clean step, same rows']:.3f} | {floor:.3f} | {floor / c['step']:.2f} | "
            f"{c['step'] * steps / 1e3:.1f} | {floor * steps / 1e3:.1f} |"
        )
    lines += [
        "",
        "At M = 16 drawing the noise and the dense arithmetic of the clean step, which an L~_M "
        "step cannot avoid, are most of the step, so no change of the loop can make those runs "
        "several times cheaper. At M = 1 the tensors are tiny and the clean step itself is "
        "mostly the loop's per-step overhead (what lockstep training of a run's seeds would "
        "share).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""Lockstep training (the seeds of a run stacked and vectorised with torch.func.vmap) against
the per-seed loop that the pipeline uses, on the default sinusoid net (4x64 ReLU, additive
sigma 0.1, full batch of 200, SGD lr 0.2).

    .venv/bin/python bench/bench_lockstep.py [--seeds 10] [--steps 300] [--m 1 16]

Measures process CPU seconds of both (one thread) and whether each seed's weights after the
steps are bit-identical between a group of all seeds and groups of one seed (the pipeline's
guarantee that a seed's result does not depend on which other seeds share its process).
Writes bench/results/lockstep.{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch
from torch.func import functional_call, vmap

from gnitails.gni import NoiseSampler, NoiseSpec, injector, tile
from gnitails.losses import per_example_loss
from gnitails.models import ModelSpec, build_model
from machine import describe, write_results

LOSS = per_example_loss("regression")


def problem(seeds: int):
    spec = ModelSpec.from_config({"arch": "mlp", "width": 64, "depth": 4, "activation": "relu"})
    nets = [
        build_model(spec, (1,), 1, generator=torch.Generator().manual_seed(s)) for s in range(seeds)
    ]
    noise = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, nets[0].n_layers)
    x = torch.linspace(-3, 3, 200)[:, None]
    return nets, noise, x, torch.sin(x)


def sampler(noise, net, seed):
    dev = next(net.parameters()).device  # the net's device (bench/gpu_check.py runs on CUDA)
    gen = torch.Generator(device=dev).manual_seed(100 + seed)
    return NoiseSampler(noise, net.activation_shapes, gen)


def per_seed_loop(nets, noise, x, y, m, steps):
    """What the pipeline does: one seed after the other."""
    out = []
    for s, net in enumerate(copy.deepcopy(nets)):
        draw, opt = sampler(noise, net, s), torch.optim.SGD(net.parameters(), lr=0.2)
        for _ in range(steps):
            loss = LOSS(net(tile(x, m), tap=injector(noise, draw.draw(m * len(x)))), tile(y, m))
            opt.zero_grad()
            loss.mean().backward()
            opt.step()
        out.append({k: v.detach() for k, v in net.named_parameters()})
    return out


def lockstep(nets, noise, x, y, m, steps, group):
    """Groups of `group` seeds with stacked weights, one vmap'd forward/backward a step."""
    out, base = [], nets[0]
    xm, ym = tile(x, m), tile(y, m)

    def one(params, eps):
        return LOSS(functional_call(base, params, (xm,), {"tap": injector(noise, eps)}), ym).mean()

    batched = vmap(one)
    for g0 in range(0, len(nets), group):
        ids = range(g0, min(g0 + group, len(nets)))
        params = {
            k: torch.stack([dict(nets[i].named_parameters())[k].detach() for i in ids])
            .clone()
            .requires_grad_()
            for k, _ in base.named_parameters()
        }
        draws = [sampler(noise, base, i) for i in ids]
        opt = torch.optim.SGD(params.values(), lr=0.2)
        for _ in range(steps):
            eps = [d.draw(m * len(x)) for d in draws]
            stacked = {k: torch.stack([e[k] for e in eps]) for k in eps[0]}
            loss = batched(params, stacked).sum()  # seeds are independent: sum = each's grad
            opt.zero_grad()
            loss.backward()
            opt.step()
        out += [{k: v[j].detach() for k, v in params.items()} for j in range(len(ids))]
    return out


def cpu(fn):
    t = time.process_time()
    result = fn()
    return time.process_time() - t, result


def max_diff(a, b):
    return max(float((p[k] - q[k]).abs().max()) for p, q in zip(a, b, strict=True) for k in p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--m", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = {"machine": describe(), "seeds": args.seeds, "steps": args.steps, "cases": []}
    nets, noise, x, y = problem(args.seeds)
    for m in args.m:
        t_loop, loop = cpu(lambda m=m: per_seed_loop(nets, noise, x, y, m, args.steps))
        t_lock, lock = cpu(lambda m=m: lockstep(nets, noise, x, y, m, args.steps, args.seeds))
        _, alone = cpu(lambda m=m: lockstep(nets, noise, x, y, m, args.steps, 1))
        res["cases"].append(
            {
                "m": m,
                "loop_cpu_s": t_loop,
                "lockstep_cpu_s": t_lock,
                "speedup": t_loop / t_lock,
                "group_vs_alone_bit_identical": max_diff(lock, alone) == 0.0,
                "group_vs_alone_max_abs": max_diff(lock, alone),
                "lockstep_vs_loop_max_abs": max_diff(lock, loop),
            }
        )
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["seconds"] = time.perf_counter() - t0
    write_results("lockstep", res, markdown)


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Lockstep training of a run's seeds vs the per-seed loop (bench/bench_lockstep.py)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, one thread; load "
        f"average {m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end. "
        f"{res['seeds']} seeds x {res['steps']} steps of the default sinusoid net, CPU seconds.",
        "",
        "| M | per-seed loop s | lockstep s | speed-up | group = alone, bit for bit | "
        "max abs weight diff, group vs alone | lockstep vs loop |",
        "|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in res["cases"]:
        lines.append(
            f"| {c['m']} | {c['loop_cpu_s']:.2f} | {c['lockstep_cpu_s']:.2f} | "
            f"{c['speedup']:.2f}x | {'yes' if c['group_vs_alone_bit_identical'] else 'no'} | "
            f"{c['group_vs_alone_max_abs']:.2g} | {c['lockstep_vs_loop_max_abs']:.2g} |"
        )
    lines += [
        "",
        "The pipeline trains a run's seeds one after the other in one process: a seed's result "
        "is then exactly that of training it alone. Stacked (vmap'd) weights are faster on small "
        "nets, but a seed's weights then depend at float level on the group it was trained in "
        "(batched matmul kernels), which chaotic SGD amplifies; see the columns above.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

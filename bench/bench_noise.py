"""Benchmark of the gradient-noise dump (gnitails.noise) -> bench/results/noise.{json,md}.

Same process, same run, interleaved: K draws of Z sharing one M-draw mean (K + M passes) vs
the naive computation where every draw has its own M-draw mean (K (1 + M) passes; here fed
the same mean draws, so the results must agree to 1e-5 relative); Z_R (one draw + grad(L + R))
vs Z with M = 100; per-draw gradients vectorised (vmap) vs a loop; and the stable fits of Z_R
against those of the Monte-Carlo Z on the same snapshot and draw.

    .venv/bin/python bench/bench_noise.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from gnitails.gni import NoiseSampler, NoiseSpec
from gnitails.losses import per_example_loss
from gnitails.models import build_model
from gnitails.noise import gradients as G
from gnitails.stable import fit
from machine import describe

OUT = Path(__file__).parent / "results"
CASES = {  # name: (width, depth, input/output dim) -- the authors' two notebook nets
    "6x256 1-D": (256, 6, 1),
    "4x512 100-D": (512, 4, 100),
}


def timed(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def max_rel(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-30)) for k in a)


def run_case(name, width, depth, dim, k, m, reps, device):
    torch.manual_seed(0)
    net = build_model({"arch": "mlp", "width": width, "depth": depth}, (dim,), dim).to(device)
    x = torch.linspace(0, 1, 200, device=device)[:, None].repeat(1, dim)
    x = x + (torch.randn_like(x) if dim > 1 else 0)
    y = torch.sin(2 * torch.pi * x[:, :1]).repeat(1, dim)
    spec = NoiseSpec.from_config({"mode": "additive", "sigma": 0.1}, net.n_layers)
    loss = per_example_loss("regression")
    gen = torch.Generator(device=device).manual_seed(1)
    sampler = NoiseSampler(spec, net.activation_shapes, gen)
    eps = G.draw_noise(sampler, k, len(x))
    mean_eps = G.draw_noise(sampler, m, len(x))

    def shared():
        g = G.per_draw_gradients(net, x, y, loss, spec, eps)
        return G.subtract(g, G.mean_gradient_from(net, x, y, loss, spec, mean_eps))

    def naive():  # every draw with its own M-draw mean (here the same draws, recomputed)
        out = []
        for d in range(k):
            g = G.per_draw_gradients_loop(
                net, x, y, loss, spec, {i: e[d : d + 1] for i, e in eps.items()}
            )
            mean = G.mean_gradient_from(net, x, y, loss, spec, mean_eps)
            out.append({n: g[n][0] - mean[n] for n in g})
        return {n: torch.stack([o[n] for o in out]) for n in out[0]}

    def z_r():
        g = G.per_draw_gradients(net, x, y, loss, spec, {i: e[:1] for i, e in eps.items()})
        return G.subtract(g, G.explicit_gradient(net, x, y, "regression", loss, spec))

    def z_one():  # one draw of Z with its M-draw mean: 1 + M passes
        g = G.per_draw_gradients(net, x, y, loss, spec, {i: e[:1] for i, e in eps.items()})
        return G.subtract(g, G.mean_gradient_from(net, x, y, loss, spec, mean_eps))

    vec = lambda: G.per_draw_gradients(net, x, y, loss, spec, eps)  # noqa: E731
    loop = lambda: G.per_draw_gradients_loop(net, x, y, loss, spec, eps)  # noqa: E731
    clean = lambda: G.clean_gradient(net, x, y, loss)  # noqa: E731
    t = {}
    t["pass (clean grad)"], _ = timed(clean, reps * 3)
    t["shared K+M"], zs = timed(shared, reps)
    t["naive K(1+M)"], zn = timed(naive, 1)
    t["Z one draw, M"], z1 = timed(z_one, reps)
    t["Z_R one draw"], zr = timed(z_r, reps)
    t["per-draw vmap"], gv = timed(vec, reps)
    t["per-draw loop"], gl = timed(loop, reps)
    fits = []
    for layer in range(2, net.n_layers):  # hidden weight matrices
        key = f"layers.{layer - 1}.weight"
        row = {"layer": layer}
        for label, z in (("z_mc", z1), ("z_r", zr)):
            r = fit(z[key][0].double().cpu().numpy().ravel(), uncertainty="none")
            row.update(
                {f"{label}_alpha": r.alpha, f"{label}_beta": r.beta, f"{label}_scale": r.scale}
            )
        fits.append(row)
    return {
        "case": name,
        "k": k,
        "m": m,
        "times_s": t,
        "passes_per_z_r": t["Z_R one draw"] / t["pass (clean grad)"],
        "ratios": {
            "naive / shared": t["naive K(1+M)"] / t["shared K+M"],
            "Z(M) / Z_R": t["Z one draw, M"] / t["Z_R one draw"],
            "loop / vmap": t["per-draw loop"] / t["per-draw vmap"],
        },
        "max_rel_diff": {"shared vs naive": max_rel(zs, zn), "vmap vs loop": max_rel(gv, gl)},
        "fits": fits,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = (
        torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if args.device == "auto"
        else torch.device(args.device)
    )
    torch.set_num_threads(1 if device.type == "cpu" else torch.get_num_threads())
    reps = 2 if args.quick else 5
    results = [run_case(n, *c, k=10, m=100, reps=reps, device=device) for n, c in CASES.items()]
    machine = {**describe(), "device": str(device), "threads": torch.get_num_threads()}
    OUT.mkdir(exist_ok=True)
    (OUT / "noise.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    lines = [
        f"Machine: {machine}. K = 10 draws, M = 100, batch 200, additive sigma 0.1, "
        "median of repeats.",
        "",
    ]
    lines += [
        "| case | pass | shared K+M | naive K(1+M) | naive/shared | Z (M=100) | Z_R | "
        "Z/Z_R | Z_R in passes | vmap | loop | loop/vmap | rel diff shared-naive | "
        "rel diff vmap-loop |",
        "|" + "---|" * 14,
    ]
    for r in results:
        t, q = r["times_s"], r["ratios"]
        lines.append(
            f"| {r['case']} | {t['pass (clean grad)'] * 1e3:.1f} ms | {t['shared K+M']:.3f} s | "
            f"{t['naive K(1+M)']:.2f} s | {q['naive / shared']:.1f} | "
            f"{t['Z one draw, M']:.3f} s | {t['Z_R one draw']:.3f} s | {q['Z(M) / Z_R']:.1f} | "
            f"{r['passes_per_z_r']:.1f} | {t['per-draw vmap']:.3f} s | "
            f"{t['per-draw loop']:.3f} s | {q['loop / vmap']:.2f} | "
            f"{r['max_rel_diff']['shared vs naive']:.1e} | "
            f"{r['max_rel_diff']['vmap vs loop']:.1e} |"
        )
    lines += [
        "",
        "Stable fits (ecf, S1) of the first draw's hidden weight matrices, Z (M = 100) "
        "vs Z_R, same snapshot and draw:",
        "",
        "| case | layer | alpha Z | alpha Z_R | beta Z | beta Z_R | scale Z | scale Z_R |",
        "|" + "---|" * 8,
    ]
    for r in results:
        for f in r["fits"]:
            lines.append(
                f"| {r['case']} | {f['layer']} | {f['z_mc_alpha']:.3f} | {f['z_r_alpha']:.3f} | "
                f"{f['z_mc_beta']:+.3f} | {f['z_r_beta']:+.3f} | {f['z_mc_scale']:.3g} | "
                f"{f['z_r_scale']:.3g} |"
            )
    (OUT / "noise.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

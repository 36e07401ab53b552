"""Noise dumps: computing what one snapshot's noise file holds (the file itself:
:mod:`gnitails.noise.dumpfile`, re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gnitails.config import with_defaults
from gnitails.gni import NoiseSampler, NoiseSpec
from gnitails.losses import per_example_loss
from gnitails.models import Net
from gnitails.noise import gradients as G
from gnitails.noise.dumpfile import (  # noqa: F401  (re-exported)
    DEFINITIONS,
    DUMP_FORMAT,
    QUANTITIES,
    coords_sample,
    draws_sample,
    layer_of,
    load_dump,
    save_dump,
    typical_coordinate,
)


@dataclass(frozen=True)
class DumpSpec:
    """An experiment's ``noise_dump`` block (see config/README.md)."""

    steps: tuple
    m: int
    draws: int
    forward_draws: int | None
    batch: int | None
    minibatch_size: int
    run: str | None
    seeds: tuple[int, ...] | None
    fit: dict

    @classmethod
    def from_config(cls, cfg: Mapping) -> DumpSpec:
        """From a ``noise_dump`` block; missing keys take the schema's defaults."""
        cfg = with_defaults(cfg, "noise_dump")
        known = {k: cfg[k] for k in cls.__dataclass_fields__}
        for k in ("steps", "seeds"):
            if known.get(k) is not None:
                known[k] = tuple(known[k])
        spec = cls(**known)
        if spec.n_forward > spec.draws:
            raise ValueError(
                f"noise_dump.forward_draws: {spec.forward_draws} exceeds draws = {spec.draws} "
                "(forward draws reuse the first draws' noise)"
            )
        return spec

    @property
    def n_forward(self) -> int:
        return self.draws if self.forward_draws is None else self.forward_draws

    @property
    def estimators(self) -> list[str]:
        return list(self.fit["estimators"])

    @property
    def n_boot(self) -> int:
        return int(self.fit["n_boot"])


def _generators(seed: int, step: int, device: torch.device) -> dict[str, torch.Generator]:
    """Independent streams for a (seed, step) dump: noise, minibatches, the Z batch."""
    names = ("noise", "minibatch", "batch", "effect")
    children = np.random.SeedSequence([int(seed), int(step), 0x6E6F697365]).spawn(len(names))
    out = {}
    for name, child in zip(names, children, strict=True):
        s = int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
        dev = device if name != "batch" else torch.device("cpu")
        out[name] = torch.Generator(device=dev).manual_seed(s)
    return out


def _param_key(quantity: str, name: str) -> str:
    """``layers.0.weight`` -> ``{quantity}/weight/1`` (k = the layer producing h_k)."""
    _, i, kind = name.split(".")
    return f"{quantity}/{kind}/{int(i) + 1}"


def compute_dump(
    net: Net,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    task: str,
    noise: NoiseSpec,
    spec: DumpSpec,
    *,
    seed: int,
    step: int,
    chunk: int | None = None,
) -> dict[str, np.ndarray]:
    """Every array of one dump for the net's current weights (the caller adds ``meta``)."""
    dev = next(net.parameters()).device
    gens = _generators(seed, step, dev)
    loss_fn = per_example_loss(task)
    n = len(x_train)
    if spec.batch is None or spec.batch >= n:
        x, y = x_train, y_train
    else:
        keep = torch.randperm(n, generator=gens["batch"])[: spec.batch].to(dev)
        x, y = x_train[keep], y_train[keep]
    if spec.minibatch_size > n:
        raise ValueError(
            f"noise_dump.minibatch_size: {spec.minibatch_size} exceeds the {n} training examples"
        )
    sampler = NoiseSampler(noise, net.activation_shapes, gens["noise"])
    arrays: dict[str, np.ndarray] = {}

    def put(quantity: str, grads: G.Grads) -> None:
        for name, g in grads.items():
            arrays[_param_key(quantity, name)] = g.detach().cpu().numpy().astype(np.float32)

    eps = G.draw_noise(sampler, spec.draws, len(x))
    per_draw = G.per_draw_gradients(net, x, y, loss_fn, noise, eps, chunk)
    put(
        "z_mc",
        G.subtract(per_draw, G.mean_gradient(net, x, y, loss_fn, noise, spec.m, sampler, chunk)),
    )
    put("z_r", G.subtract(per_draw, G.explicit_gradient(net, x, y, task, loss_fn, noise)))
    del per_draw
    index = G.minibatch_index(n, spec.minibatch_size, spec.draws, gens["minibatch"])
    mini = G.minibatch_gradients(net, x_train, y_train, loss_fn, index, chunk)
    put("minibatch", G.subtract(mini, G.clean_gradient(net, x_train, y_train, loss_fn)))
    first = {k: e[: spec.n_forward] for k, e in eps.items()}
    for k, f in enumerate(G.forward_noise(net, x, noise, first)):
        arrays[f"forward/{k}"] = f.cpu().numpy().astype(np.float32)
    return arrays


def explicit_effect(net, x, y, task, noise, spec: DumpSpec, *, seed: int, step: int) -> dict:
    """E[L~] - L over ``spec.draws`` fresh draws on the dump's batch (its own stream), and R.

    Recorded in the meta so that the ratio of the Monte-Carlo explicit effect to R, which
    leaves out the ReLU-kink term, can be tabled (docs/noise.md).
    """
    gens = _generators(seed, step, next(net.parameters()).device)
    if spec.batch is not None and spec.batch < len(x):
        keep = torch.randperm(len(x), generator=gens["batch"])[: spec.batch].to(x.device)
        x, y = x[keep], y[keep]  # the same batch as compute_dump (same stream, same draw)
    sampler = NoiseSampler(noise, net.activation_shapes, gens["effect"])
    eps = G.draw_noise(sampler, spec.draws, len(x))
    return G.explicit_effect(net, x, y, task, per_example_loss(task), noise, eps)


def dump_meta(
    net: Net, noise: NoiseSpec, spec: DumpSpec, arrays: Mapping[str, np.ndarray], **extra
) -> dict:
    """The ``meta`` record of a dump (JSON types: what :func:`load_dump` gives back)."""
    batch = arrays["forward/0"].shape[1]
    meta = {
        "format": DUMP_FORMAT,
        **extra,
        "m": spec.m,
        "draws": spec.draws,
        "forward_draws": spec.n_forward,
        "batch": batch,
        "minibatch_size": spec.minibatch_size,
        "sigma": list(noise.sigmas),
        "noised_layers": list(noise.layers),
        "mode": noise.mode,
        "definitions": DEFINITIONS,
        "layer_names": net.layer_names(),
        "n_layers": net.n_layers,
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "spec": {k: v for k, v in asdict(spec).items() if k != "fit"},
    }
    return json.loads(json.dumps(meta))


# --------------------------------------------------------------------------- files


def dump_snapshot(
    experiment: Mapping,
    data,
    models: str | Path,
    out: str | Path,
    *,
    ids: Mapping,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
    chunk: int | None = None,
) -> dict:
    """Load the snapshot of seed ``ids["seed"]`` at step ``ids["step"]`` from a run's
    ``models.pt``, compute its dump and write ``out``; returns the meta.

    ``ids`` (experiment, run, seed, step) go into the meta; the seed and step seed the draws.
    """
    from gnitails.training import load_model, resolve_device

    dev = resolve_device(device)
    old_threads = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        net, _ = load_model(models, seed=ids["seed"], step=ids["step"], device=dev)
        noise = NoiseSpec.from_config(experiment["noise"], net.n_layers)
        spec = DumpSpec.from_config(experiment["noise_dump"])
        x = torch.from_numpy(np.ascontiguousarray(data.x_train)).to(dev)
        y = torch.from_numpy(np.ascontiguousarray(data.y_train)).to(dev)
        arrays = compute_dump(
            net, x, y, data.task, noise, spec, seed=ids["seed"], step=ids["step"], chunk=chunk
        )
        effect = explicit_effect(
            net, x, y, data.task, noise, spec, seed=ids["seed"], step=ids["step"]
        )
    finally:
        torch.set_num_threads(old_threads)
    meta = dump_meta(net, noise, spec, arrays, **ids, device=dev.type, explicit_effect=effect)
    save_dump(out, arrays, meta)
    return meta

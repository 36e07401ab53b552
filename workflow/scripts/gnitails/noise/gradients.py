"""Gradient noise at fixed weights and a fixed batch: per-draw gradients, means, Z, Z_R.

Z  = grad L~(B; w, eps) - (1/M) sum_m grad L~(B; w, eps_m)   (Monte Carlo, M fresh draws)
Z_R = grad L~(B; w, eps) - grad (L + R)(B; w)                (the explicit-effect mean)

K draws of Z share one M-draw mean, so a snapshot costs K + M passes, not K (1 + M); the
shared mean makes the K draws slightly correlated (a common offset of variance 1/M of Z's).
Per-draw gradients run vectorised (``torch.func.vmap`` of ``grad``, optionally in chunks);
the M-draw mean is one tiled forward/backward pass (in chunks of draws, summed), the same
L~_M as training. Gradients are dicts ``{parameter name: tensor}``; per-draw ones carry a
leading draw axis. Every function is device-agnostic: tensors stay where the net lives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap

from gnitails.gni import NoiseSampler, NoiseSpec, injector, tile
from gnitails.losses import LossFn
from gnitails.models import Net
from gnitails.regulariser import regulariser

Grads = dict[str, Tensor]


def parameters(net: Net) -> dict[str, Tensor]:
    """The net's parameters, detached (the point at which gradients are taken)."""
    return {k: v.detach() for k, v in net.named_parameters()}


def split_draws(eps: Mapping[int, Tensor], draws: int) -> dict[int, Tensor]:
    """Draw-major rows (draws * B, ...) -> (draws, B, ...) per layer."""
    return {k: e.view(draws, -1, *e.shape[1:]) for k, e in eps.items()}


def draw_noise(sampler: NoiseSampler, draws: int, batch: int) -> dict[int, Tensor]:
    """``draws`` independent standard-normal eps per noised layer, shape (draws, B, ...)."""
    return split_draws(sampler.draw(draws * batch), draws)


def _noisy_mean_loss(net: Net, spec: NoiseSpec, loss_fn: LossFn) -> Callable:
    def loss(params, x, y, eps):
        out = functional_call(net, params, (x,), {"tap": injector(spec, eps)})
        return loss_fn(out, y).mean()

    return loss


def per_draw_gradients(
    net: Net,
    x: Tensor,
    y: Tensor,
    loss_fn: LossFn,
    spec: NoiseSpec,
    eps: Mapping[int, Tensor],
    chunk: int | None = None,
) -> Grads:
    """grad L~(B; w, eps_d) for every draw d of ``eps`` (shape (D, B, ...)), vectorised."""
    fn = vmap(
        grad(_noisy_mean_loss(net, spec, loss_fn)), in_dims=(None, None, None, 0), chunk_size=chunk
    )
    return fn(parameters(net), x, y, dict(eps))


def per_draw_gradients_loop(
    net: Net, x: Tensor, y: Tensor, loss_fn: LossFn, spec: NoiseSpec, eps: Mapping[int, Tensor]
) -> Grads:
    """The same as :func:`per_draw_gradients` with one backward per draw (reference)."""
    names, params = zip(*net.named_parameters(), strict=True)
    draws = next(iter(eps.values())).shape[0] if eps else 1
    out: dict[str, list[Tensor]] = {n: [] for n in names}
    for d in range(draws):
        tap = injector(spec, {k: e[d] for k, e in eps.items()})
        g = torch.autograd.grad(loss_fn(net(x, tap=tap), y).mean(), params)
        for n, gi in zip(names, g, strict=True):
            out[n].append(gi)
    return {n: torch.stack(v) for n, v in out.items()}


def mean_gradient(
    net: Net,
    x: Tensor,
    y: Tensor,
    loss_fn: LossFn,
    spec: NoiseSpec,
    m: int,
    sampler: NoiseSampler,
    chunk: int | None = None,
) -> Grads:
    """grad L~_M: M fresh draws from ``sampler``, tiled, ``chunk`` draws per pass (summed)."""
    names, params = zip(*net.named_parameters(), strict=True)
    chunk = m if chunk is None else max(1, min(chunk, m))
    total = [torch.zeros_like(p) for p in params]
    done = 0
    while done < m:
        c = min(chunk, m - done)
        eps = sampler.draw(c * len(x))
        out = net(tile(x, c), tap=injector(spec, eps))
        loss = loss_fn(out, tile(y, c)).sum() / (m * len(x))
        for t, g in zip(total, torch.autograd.grad(loss, params), strict=True):
            t += g
        done += c
    return dict(zip(names, total, strict=True))


def mean_gradient_from(
    net: Net, x: Tensor, y: Tensor, loss_fn: LossFn, spec: NoiseSpec, eps: Mapping[int, Tensor]
) -> Grads:
    """grad L~_M from given draws ``eps`` (shape (M, B, ...)): the naive reference."""
    m = next(iter(eps.values())).shape[0]
    flat = {k: e.reshape(-1, *e.shape[2:]) for k, e in eps.items()}
    names, params = zip(*net.named_parameters(), strict=True)
    out = net(tile(x, m), tap=injector(spec, flat))
    g = torch.autograd.grad(loss_fn(out, tile(y, m)).mean(), params)
    return dict(zip(names, g, strict=True))


def explicit_gradient(
    net: Net, x: Tensor, y: Tensor, task: str, loss_fn: LossFn, spec: NoiseSpec
) -> Grads:
    """grad (L + R) with the exact R (one VJP per output, differentiated once more)."""
    names, params = zip(*net.named_parameters(), strict=True)
    r, out = regulariser(net, x, task, spec, estimator="exact", create_graph=True)
    g = torch.autograd.grad(loss_fn(out, y).mean() + r, params)
    return dict(zip(names, g, strict=True))


def clean_gradient(net: Net, x: Tensor, y: Tensor, loss_fn: LossFn) -> Grads:
    """grad L on (x, y), no noise."""
    names, params = zip(*net.named_parameters(), strict=True)
    g = torch.autograd.grad(loss_fn(net(x), y).mean(), params)
    return dict(zip(names, g, strict=True))


def minibatch_gradients(
    net: Net, x: Tensor, y: Tensor, loss_fn: LossFn, index: Tensor, chunk: int | None = None
) -> Grads:
    """grad L on each minibatch ``x[index[d]]`` (index: D x b), no noise, vectorised."""

    def loss(params, xb, yb):
        return loss_fn(functional_call(net, params, (xb,)), yb).mean()

    return vmap(grad(loss), in_dims=(None, 0, 0), chunk_size=chunk)(
        parameters(net), x[index], y[index]
    )


def minibatch_index(n: int, batch: int, draws: int, generator: torch.Generator) -> Tensor:
    """``draws`` minibatches of ``batch`` distinct examples each (D x b), from ``generator``."""
    keys = torch.rand(draws, n, generator=generator, device=generator.device)
    return keys.argsort(dim=1)[:, :batch]


def subtract(per_draw: Grads, mean: Grads) -> Grads:
    return {k: per_draw[k] - mean[k] for k in per_draw}


def forward_noise(net: Net, x: Tensor, spec: NoiseSpec, eps: Mapping[int, Tensor]) -> list[Tensor]:
    """The accumulated forward noise h~_k - h_k for k = 0..L, shape (D, B, *shape_k).

    Computed as (h^_k - h_k) + the noise injected at k (h^_k: h_k before injection, from the
    noisy upstream), so layer 0 is exactly the injected noise, sigma eps (additive) or
    sigma x eps (multiplicative), with no rounding from subtracting x.
    """
    draws = next(iter(eps.values())).shape[0] if eps else 1
    flat = {k: e.reshape(-1, *e.shape[2:]) for k, e in eps.items()}
    injected: dict[int, Tensor] = {}
    before: dict[int, Tensor] = {}

    def tap(k: int, h: Tensor) -> Tensor:
        before[k] = h
        e = flat.get(k)
        if e is None:
            return h
        term = spec.sigmas[k] * (h * e if spec.multiplicative else e)
        injected[k] = term
        return h + term

    clean: dict[int, Tensor] = {}

    def clean_tap(k: int, h: Tensor) -> Tensor:
        clean[k] = h
        return h

    with torch.no_grad():
        net(x, tap=clean_tap)
        net(tile(x, draws), tap=tap)
    noise = []
    for k in range(net.n_layers + 1):
        diff = before[k].view(draws, *clean[k].shape) - clean[k]
        if k in injected:
            diff = diff + injected[k].view(draws, *clean[k].shape)
        noise.append(diff)
    return noise


@torch.no_grad()
def explicit_effect(
    net: Net, x: Tensor, y: Tensor, task: str, loss_fn: LossFn, spec: NoiseSpec, eps
) -> dict[str, float]:
    """The explicit effect E_eps[L~] - L by Monte Carlo over the K draws ``eps`` (mean and its
    standard error), beside R (exact), which is its second-order Taylor term only: with ReLUs
    the kinks add a term of the same order sigma^2 that R leaves out (docs/noise.md)."""
    draws = next(iter(eps.values())).shape[0] if eps else 1
    flat = {k: e.reshape(-1, *e.shape[2:]) for k, e in eps.items()}
    noisy = loss_fn(net(tile(x, draws), tap=injector(spec, flat)), tile(y, draws))
    per_draw = noisy.view(draws, -1).mean(dim=1).double()
    clean = loss_fn(net(x), y).mean().double()
    with torch.enable_grad():
        r, _ = regulariser(net, x, task, spec, estimator="exact", create_graph=False)
    effect = per_draw - clean
    se = effect.std() / draws**0.5 if draws > 1 else torch.tensor(float("nan"))
    return {
        "clean_loss": float(clean),
        "mc_effect": float(effect.mean()),
        "mc_effect_se": float(se),
        "regulariser": float(r),
        "draws": int(draws),
    }

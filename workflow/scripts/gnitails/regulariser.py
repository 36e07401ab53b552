"""The explicit regulariser R of GNIs (Camuto et al. 2020), exact or by Hutchinson's estimator.

    R(B; w) = mean_{x in B} 1/2 sum_k sigma_k^2 Tr(J_k^T H_L J_k)

J_k = d h_L / d h_k is the Jacobian of the output in the k-th noised activation (for
multiplicative noise J_k diag(h_k), since the noise there is sigma h_k eps), H_L the Hessian of
the loss in the output (see :mod:`gnitails.losses` for the scaling: H_L = 2I for the summed
squared error, diag(p) - pp^T for cross-entropy). With A A^T = H_L,

    Tr(J_k^T H_L J_k) = ||J_k^T A||_F^2 = sum_j ||(A e_j)^T J_k||^2   (exact: d_out VJPs)
                      = E_u ||(A u)^T J_k||^2,  E[u u^T] = I        (Hutchinson: u Rademacher)

and each vector-Jacobian product (A u)^T J_k gives every layer k at once from one backward pass;
the d_out (or ``probes``) VJPs all reuse a single forward pass.

R is the second-order term of E[L~ - L]: it leaves out the curvature of the activation itself
(for ReLU that is zero almost everywhere; for ELU or tanh the Monte-Carlo explicit effect can
exceed R noticeably, ~1.5x in our measurements with ELU). See docs/training.md.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gnitails.gni import NoiseSpec
from gnitails.losses import hessian_sqrt_apply
from gnitails.models import Net

ESTIMATORS = ("exact", "hutchinson")


def _probe_vectors(
    estimator: str, out: Tensor, probes: int, generator: torch.Generator | None
) -> Tensor:
    """u of shape (P, N, d): the unit vectors e_j (exact) or Rademacher vectors."""
    n, d = out.shape
    if estimator == "exact":
        eye = torch.eye(d, dtype=out.dtype, device=out.device)
        return eye[:, None, :].expand(d, n, d)
    if estimator == "hutchinson":
        if generator is None:
            raise ValueError("the Hutchinson estimate needs an explicit torch.Generator")
        bits = torch.randint(0, 2, (probes, n, d), generator=generator, device=generator.device)
        return (2 * bits - 1).to(out.dtype)
    raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")


def regulariser(
    net: Net,
    x: Tensor,
    task: str,
    spec: NoiseSpec,
    *,
    estimator: str = "exact",
    probes: int = 1,
    generator: torch.Generator | None = None,
    create_graph: bool = True,
) -> tuple[Tensor, Tensor]:
    """R on the batch ``x`` and the clean output (so a caller gets L from the same pass).

    ``create_graph`` keeps R differentiable in the weights (training with L + R); H_L's own
    dependence on the weights (through p) is part of that graph. Hutchinson draws ``probes``
    Rademacher vectors per example from ``generator``; the estimate is unbiased.
    """
    layers = spec.layers
    acts: dict[int, Tensor] = {}

    def tap(k: int, h: Tensor) -> Tensor:
        if k in layers:
            if not h.requires_grad:  # the input: make it a leaf so we can differentiate at it
                h = h.detach().requires_grad_(True)
            acts[k] = h
        return h

    out = net(x, tap=tap)
    if not layers:
        return out.new_zeros(()), out
    u = _probe_vectors(estimator, out, probes, generator)
    v = hessian_sqrt_apply(task, out if create_graph else out.detach(), u)
    inputs = [acts[k] for k in layers]
    total = out.new_zeros(())
    # One VJP per probe vector. A loop, not is_grads_batched: vmap over the conv net's double
    # backward ran 2.4x slower on CPU, and for MLPs the two cost the same.
    for v_j in v:
        grads = torch.autograd.grad(
            out, inputs, grad_outputs=v_j, retain_graph=True, create_graph=create_graph
        )
        for k, g in zip(layers, grads, strict=True):
            if spec.multiplicative:
                g = g * acts[k]  # J_k diag(h_k): the noise at h_k is sigma h_k eps
            total = total + spec.sigmas[k] ** 2 * g.square().sum()
    n_probes = 1 if estimator == "exact" else probes
    r = 0.5 * total / (len(x) * n_probes)
    return (r if create_graph else r.detach()), out

"""The explicit regulariser R: closed forms, a brute-force Jacobian reference, its gradient,
Hutchinson's unbiasedness, and R as the Monte-Carlo limit of L~ - L."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import jacrev

from gnitails.gni import NoiseSampler, NoiseSpec, noisy_forward, tile
from gnitails.losses import cross_entropy, hessian_sqrt_apply, sum_squared_error
from gnitails.models import build_convnet, build_mlp, record_activations
from gnitails.regulariser import regulariser

torch.set_default_dtype(torch.float32)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def brute_force_r(net, x, task, spec):
    """R from full per-example Jacobians: 1/2 sum_k sigma_k^2 Tr(J_k^T H_L J_k), averaged."""
    total = 0.0
    for n in range(len(x)):
        xn = x[n : n + 1]
        out, acts = record_activations(net, xn)
        o = out[0].detach()
        if task == "regression":
            hess = 2 * torch.eye(len(o), dtype=o.dtype)
        else:
            p = torch.softmax(o, 0)
            hess = torch.diag(p) - torch.outer(p, p)
        for k in spec.layers:
            hk = acts[k].detach()

            def f(h, k=k, xn=xn):
                return net(xn, tap=lambda j, a: h if j == k else a)[0]

            jac = jacrev(f)(hk).reshape(len(o), -1)
            if spec.multiplicative:
                jac = jac * hk.reshape(1, -1)
            total += 0.5 * spec.sigmas[k] ** 2 * torch.trace(jac.T @ hess @ jac)
    return total / len(x)


def test_hessian_square_root():
    out = torch.randn(5, 4, dtype=torch.float64)
    eye = torch.eye(4, dtype=torch.float64).expand(5, 4, 4)  # columns of A: A e_j
    a = hessian_sqrt_apply("classification", out, eye.transpose(0, 1)).permute(1, 2, 0)
    p = torch.softmax(out, 1)
    h = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    torch.testing.assert_close(a @ a.transpose(1, 2), h)
    u = torch.randn(2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(hessian_sqrt_apply("regression", out, u), 2**0.5 * u)


def test_cross_entropy_is_torchs_value_and_gradient_even_for_huge_logits():
    """The logsumexp form keeps F.cross_entropy's value and gradient (-log p_y, p - e_y),
    without overflow at logits of 1e4 and under vmap (the noise dumps' per-draw gradients)."""
    out = torch.randn(64, 10, generator=gen(1), dtype=torch.float64) * 3
    out[:4] += 1e4  # exp would overflow without the max shift
    out.requires_grad_(True)
    y = torch.randint(0, 10, (64,), generator=gen(2))
    ours = cross_entropy(out, y)
    torch.testing.assert_close(ours, F.cross_entropy(out, y, reduction="none"))
    (grad,) = torch.autograd.grad(ours.sum(), out)
    onehot = F.one_hot(y, 10).to(out.dtype)
    torch.testing.assert_close(grad, torch.softmax(out, 1) - onehot)
    batched = torch.vmap(cross_entropy, in_dims=(0, None))(
        out.detach().view(4, 16, 10)[:, :2], y[:2]
    )
    for b in range(4):
        want = F.cross_entropy(out.detach()[16 * b : 16 * b + 2], y[:2], reduction="none")
        torch.testing.assert_close(batched[b], want)


def test_linear_model_closed_form():
    """y = W(x + eps), loss sum_j (y_j - yhat_j)^2: R = sigma^2 ||W||_F^2 (H_L = 2I)."""
    net = build_mlp((5,), 3, width=1, depth=0).double()
    x = torch.randn(20, 5, dtype=torch.float64)
    sigma = 0.3
    add = NoiseSpec("additive", (sigma, 0.0))
    r, _ = regulariser(net, x, "regression", add)
    w = net.layers[0].weight
    torch.testing.assert_close(r, sigma**2 * w.square().sum())
    # multiplicative input noise sigma x eps: R = sigma^2 mean_n sum_ij W_ij^2 x_nj^2
    mult = NoiseSpec("multiplicative", (sigma, 0.0))
    r_mult, _ = regulariser(net, x, "regression", mult)
    torch.testing.assert_close(r_mult, sigma**2 * (w.square() @ x.T.square()).sum(0).mean())


def test_linear_model_monte_carlo_matches_closed_form():
    torch.manual_seed(0)
    net = build_mlp((4,), 2, width=1, depth=0)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    spec = NoiseSpec("additive", (0.5, 0.0))
    m = 20000
    eps = NoiseSampler(spec, net.activation_shapes, gen()).draw(m * len(x))
    with torch.no_grad():
        noisy = sum_squared_error(noisy_forward(net, tile(x, m), spec, eps), tile(y, m)).mean()
        clean = sum_squared_error(net(x), y).mean()
    expected = 0.25 * net.layers[0].weight.square().sum()
    assert abs((noisy - clean) / expected - 1) < 0.03


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize(
    "arch, task", [("mlp", "regression"), ("mlp", "classification"), ("convnet", "classification")]
)
def test_exact_r_matches_brute_force_jacobians(arch, task, mode):
    torch.manual_seed(1)
    if arch == "mlp":
        net = build_mlp((3,), 4, width=7, depth=2, activation="elu").double()
        x = torch.randn(6, 3, dtype=torch.float64)
    else:
        net = build_convnet((1, 8, 8), 4).double()
        x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    spec = NoiseSpec(mode, (0.3,) + (0.2,) * (net.n_layers - 1) + (0.1,))  # output included
    r, out = regulariser(net, x, task, spec)
    torch.testing.assert_close(r, brute_force_r(net, x, task, spec))
    torch.testing.assert_close(out, net(x))


def test_gradient_of_r_matches_finite_differences():
    """The weights enter R through J_k, h_k (multiplicative) and H_L(p): all in the graph."""
    torch.manual_seed(2)
    net = build_mlp((3,), 4, width=6, depth=2, activation="elu").double()
    x = torch.randn(5, 3, dtype=torch.float64)
    spec = NoiseSpec("multiplicative", (0.3, 0.3, 0.3, 0.0))
    params = list(net.parameters())
    r, _ = regulariser(net, x, "classification", spec)
    grads = torch.autograd.grad(r, params)
    direction = [torch.randn_like(p) for p in params]
    analytic = sum((g * d).sum() for g, d in zip(grads, direction, strict=True))

    def r_at(t):
        with torch.no_grad():
            for p, d in zip(params, direction, strict=True):
                p.add_(t * d)
        value = regulariser(net, x, "classification", spec, create_graph=False)[0]
        with torch.no_grad():
            for p, d in zip(params, direction, strict=True):
                p.sub_(t * d)
        return value

    t = 1e-5
    numeric = (r_at(t) - r_at(-t)) / (2 * t)
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("task, d_out", [("regression", 3), ("classification", 10)])
def test_hutchinson_is_unbiased(task, d_out):
    torch.manual_seed(3)
    net = build_mlp((5,), d_out, width=16, depth=2).double()
    x = torch.randn(8, 5, dtype=torch.float64)
    spec = NoiseSpec("additive", (0.2, 0.2, 0.2, 0.0))
    exact, _ = regulariser(net, x, task, spec, create_graph=False)
    estimates = torch.stack(
        [
            regulariser(
                net,
                x,
                task,
                spec,
                estimator="hutchinson",
                probes=1,
                generator=gen(s),
                create_graph=False,
            )[0]
            for s in range(400)
        ]
    )
    assert (estimates >= 0).all()
    se = estimates.std() / len(estimates) ** 0.5
    assert abs(estimates.mean() - exact) < 4 * se
    assert estimates.std() > 0  # it is an estimate, not the exact value in disguise
    many, _ = regulariser(
        net, x, task, spec, estimator="hutchinson", probes=4000, generator=gen(), create_graph=False
    )
    assert abs(many / exact - 1) < 0.05


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_monte_carlo_explicit_effect_converges_to_r(mode, task):
    """E[L~ - L] -> R for small sigma on a ReLU net.

    R is the second-order term; ReLU adds no curvature once sigma is below the distance of the
    pre-activations from the kink, so we take sigma = min |pre-activation| / 10. Antithetic
    draws (eps, -eps) cancel the odd terms and leave a low-variance estimate.
    """
    torch.manual_seed(4)
    net = build_mlp((3,), 3, width=10, depth=2).double()
    x = torch.randn(8, 3, dtype=torch.float64)
    if task == "regression":
        y, loss = torch.randn(8, 3, dtype=torch.float64), sum_squared_error
    else:
        y, loss = torch.randint(0, 3, (8,)), cross_entropy
    _, acts = record_activations(net, x)
    pre = [net.layers[k - 1](acts[k - 1]) for k in range(1, net.n_layers)]
    sigma = 0.1 * min(a.abs().min().item() for a in pre)
    spec = NoiseSpec(mode, (sigma, sigma, sigma, 0.0))
    m = 4000
    eps = NoiseSampler(spec, net.activation_shapes, gen(5)).draw(m * len(x))
    eps = {k: e.double() for k, e in eps.items()}
    with torch.no_grad():
        xt, yt = tile(x, m), tile(y, m)
        plus = loss(noisy_forward(net, xt, spec, eps), yt)
        minus = loss(noisy_forward(net, xt, spec, {k: -e for k, e in eps.items()}), yt)
        excess = ((plus + minus) / 2).view(m, -1).mean(1) - loss(net(x), y).mean()
    r, _ = regulariser(net, x, task, spec, create_graph=False)
    se = excess.std() / m**0.5
    assert se < 0.05 * r  # the check below has teeth
    assert abs(excess.mean() - r) < 4 * se, (excess.mean().item(), r.item(), se.item())

"""The stable-replacement experiment: a mean gradient plus noise from the fitted law.

Every step the update uses g = grad(mean objective) + xi, with the mean objective L~_M (M =
``replace_m``, tiled as in training) or L + R (``replace_mean: explicit``), and xi drawn i.i.d.
per entry, for each parameter tensor (weights and biases apart), from a law fitted to that
tensor's current implicit-effect noise Z = grad L~_1 - grad(mean objective) on the same batch.
The fit is redone every ``replace_refit_every`` steps (from step 0). The arms differ only in
the law of xi:

- ``replace_s1``: the fitted stable law in S1 with location 0 (strictly stable, mean zero
  for alpha > 1), as recommended (digest Q9);
- ``replace_s0``: the fitted (alpha, beta, scale) as S0 with location 0, the authors' choice,
  whose mean is -beta scale tan(pi alpha / 2) (a drift) for alpha > 1;
- ``replace_gauss``: N(0, 2 scale^2), the alpha = 2 stable law with the fitted scale (the
  authors' alpha = 2 fit meant to give a Gaussian of matched scale; their code for it crashed).

Scale model (``replace_scale``). The entries of one weight's noise differ in scale by orders
of magnitude (Z_ij is roughly a backpropagated error of unit i times activation j), and a
stable law fitted to them pooled describes that scale mixture, not the noise: on the default
sinusoid net it gives alpha ~ 0.1-0.4, and noise from such a law makes SGD diverge. With
``rank1`` (the default) each entry is Z_ij = r_i c_j S_ij, with robust row and column scales
(median absolute deviations, rows first) and one law fitted to the standardised S; xi is drawn
the same way. ``tensor`` pools the raw entries, as the authors did. Biases
join their layer's weight as one more column; conv kernels are matrices of output channel x
the rest.

Fits use the ECF estimator (no uncertainty) on the tensor's entries. A tensor with fewer
entries than a fit needs (e.g. the bias of a 1-unit output layer), or whose Z is constant,
gets no noise until a refit succeeds. The single draw and xi come from their own generator,
so the mean objective sees the same noise stream as the matching ``m{M}`` run: with xi = 0 a
replacement run is that run. The generator state and current laws go in the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from gnitails.gni import NoiseSampler, NoiseSpec, injector, noisy_loss
from gnitails.losses import LossFn
from gnitails.models import Net
from gnitails.regulariser import regulariser
from gnitails.scales import rank1_scales
from gnitails.stable import fit, sample

KINDS = {"replace_s1": "S1", "replace_s0": "S0", "replace_gauss": "gauss"}
MEANS = ("lm", "explicit")
MIN_ENTRIES = 20  # the stable fit's minimum sample size
SCALE_MODELS = ("tensor", "rank1")


def fit_law(z: Tensor, kind: str, scale_model: str = "rank1") -> dict | None:
    """The law of xi for one tensor's noise sample ``z`` (None: too small or constant).

    The law holds the fitted parameters of the standardised noise and, for ``rank1``, the
    per-entry ``scales`` (a tensor shaped like ``z``) that xi is multiplied by.
    """
    if scale_model not in SCALE_MODELS:
        raise ValueError(
            f"training.replace_scale: expected one of {SCALE_MODELS}, got {scale_model!r}"
        )
    arr = z.detach().double().cpu().numpy()
    scales = None
    if scale_model == "rank1" and arr.ndim >= 2 and arr.shape[0] > 1:
        matrix = arr.reshape(arr.shape[0], -1)
        if matrix.shape[1] > 1:
            s = rank1_scales(matrix)
            with np.errstate(over="ignore", invalid="ignore"):  # inf once a run diverged
                arr = np.where(s > 0, matrix / np.where(s > 0, s, 1.0), 0.0)
            scales = torch.from_numpy(s.reshape(z.shape)).to(z.device, z.dtype)
    x = arr.reshape(-1)
    x = x[x != 0]  # dead entries (no noise reaches them) are not part of the law
    if x.size < MIN_ENTRIES or x.min() == x.max():
        return None
    try:
        r = fit(x, "ecf", uncertainty="none", moments=False)
    except ValueError:
        return None
    law = {"alpha": r.alpha, "beta": r.beta, "scale": r.scale}
    if not (all(math.isfinite(v) for v in law.values()) and r.scale > 0):
        return None
    if kind == "gauss":
        # The matched scale: the alpha = 2 stable law of the fitted scale, N(0, 2 scale^2).
        # (Matching the variance instead would let the sample's heavy tails set the std.)
        law = {"std": math.sqrt(2) * r.scale}
    if scales is not None:
        law["scales"] = scales
    return law


def fit_laws(noise: Mapping[str, Tensor], kind: str, scale_model: str = "rank1") -> dict:
    """Laws for every parameter tensor, keyed like `noise` (parameter name -> its noise).

    With ``rank1`` a layer's bias joins its weight matrix as one more input column (a bias is
    the weight of a constant input 1): both then share the row scales and one standardised law.
    """
    laws: dict[str, dict | None] = {}
    for name, z in noise.items():
        prefix, _, leaf = name.rpartition(".")
        bias = f"{prefix}.bias" if prefix else "bias"
        if name in laws:
            continue
        if scale_model != "rank1" or leaf != "weight" or bias not in noise or z.dim() < 2:
            laws[name] = fit_law(z, kind, scale_model)
            continue
        rows = z.shape[0]
        joint = torch.cat([z.reshape(rows, -1), noise[bias].reshape(rows, 1)], dim=1)
        law = fit_law(joint, kind, scale_model)
        scales = None if law is None else law.pop("scales", None)
        if scales is None:  # no law, or one pooled law (a single row)
            laws[name] = laws[bias] = law
        else:
            laws[name] = {**law, "scales": scales[:, :-1].reshape(z.shape)}
            laws[bias] = {**law, "scales": scales[:, -1].reshape(noise[bias].shape)}
    return laws


def draw(law: Mapping, kind: str, shape, generator: torch.Generator, dtype) -> Tensor:
    """xi of ``shape`` from ``law`` (times its per-entry scales, if it has them)."""
    xi = _draw_standard(law, kind, shape, generator, dtype)
    scales = law.get("scales")
    return xi if scales is None else xi * scales


def _draw_standard(law: Mapping, kind: str, shape, generator: torch.Generator, dtype) -> Tensor:
    """Stable with location 0 in S1 or S0, or N(0, std^2)."""
    dev = generator.device
    if kind == "gauss":
        return torch.randn(shape, generator=generator, device=dev, dtype=dtype) * law["std"]
    return sample(
        law["alpha"],
        law["beta"],
        law["scale"],
        0.0,
        tuple(shape),
        parametrization=kind,
        dtype="float32" if dtype == torch.float32 else "float64",
        seed=generator,
        backend="torch",
        device=dev,
    )


class Replacement:
    """The mean objective and the noise added to its gradient, for one replacement arm."""

    def __init__(
        self,
        rule: str,
        net: Net,
        noise: NoiseSpec,
        task: str,
        loss_fn: LossFn,
        *,
        mean: str,
        m: int,
        refit_every: int,
        scale_model: str = "rank1",
        mean_sampler: NoiseSampler,
        generator: torch.Generator,
        r_options: Mapping | None = None,
        log: Callable[[str], None] = lambda _msg: None,
    ):
        if rule not in KINDS:
            raise ValueError(f"replacement rule must be one of {sorted(KINDS)}, got {rule!r}")
        if mean not in MEANS:
            raise ValueError(f"training.replace_mean: expected one of {MEANS}, got {mean!r}")
        self.kind = KINDS[rule]
        self.net, self.noise, self.task, self.loss_fn = net, noise, task, loss_fn
        self.mean, self.m, self.refit_every = mean, m, refit_every
        self.scale_model = scale_model
        self.mean_sampler = mean_sampler
        self.r_options = dict(r_options or {})  # estimator, probes, generator of R
        self.generator = generator
        self.draw_sampler = NoiseSampler(noise, net.activation_shapes, generator)
        self.names = [n for n, _ in net.named_parameters()]
        self.laws: dict[str, dict | None] = {}
        self.log = log
        self.refits = 0

    def objective(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor | None]:
        """The mean objective (whose gradient is the mean gradient) and R if it has one."""
        if self.mean == "explicit":
            r, out = regulariser(self.net, xb, self.task, self.noise, **self.r_options)
            return self.loss_fn(out, yb).mean() + r, r
        return noisy_loss(
            self.net, xb, yb, self.loss_fn, self.noise, self.m, self.mean_sampler
        ), None

    def perturb(self, step: int, xb: Tensor, yb: Tensor) -> None:
        """After backward of :meth:`objective`: refit if due, then add xi to every .grad."""
        params = list(self.net.parameters())
        if not self.noise.layers:
            return
        if step % self.refit_every == 0:
            self._refit(params, xb, yb, step)
        with torch.no_grad():
            for name, p in zip(self.names, params, strict=True):
                law = self.laws.get(name)
                if law is not None:
                    p.grad.add_(draw(law, self.kind, p.shape, self.generator, p.dtype))

    def _refit(self, params: list[Tensor], xb: Tensor, yb: Tensor, step: int) -> None:
        eps = self.draw_sampler.draw(len(xb))
        one = self.loss_fn(self.net(xb, tap=injector(self.noise, eps)), yb).mean()
        g1 = torch.autograd.grad(one, params)
        noise = {name: g - p.grad for name, p, g in zip(self.names, params, g1, strict=True)}
        self.laws = fit_laws(noise, self.kind, self.scale_model)
        if self.refits % 10 == 0:
            self.log(f"replacement refit at step {step}: {self.describe()}")
        self.refits += 1

    def describe(self) -> str:
        parts = []
        for name, law in self.laws.items():
            if law is None:
                parts.append(f"{name} none")
            elif "std" in law:
                parts.append(f"{name} std={law['std']:.3g}")
            else:
                parts.append(
                    f"{name} a={law['alpha']:.3f} b={law['beta']:+.3f} s={law['scale']:.3g}"
                )
        return "; ".join(parts)

    def state(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "laws": dict(self.laws),
            "refits": self.refits,
        }

    def load(self, state: Mapping) -> None:
        self.generator.set_state(state["generator"])
        self.laws = dict(state["laws"])
        self.refits = state["refits"]

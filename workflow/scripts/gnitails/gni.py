"""Gaussian noise injections (GNIs) on a :class:`~gnitails.models.Net`'s activations.

Additive:        h~_k = h_k + sigma_k eps_k
Multiplicative:  h~_k = h_k (1 + sigma_k eps_k)        eps_k ~ N(0, I), sigma_k a std.

By default the data layer h_0 and every hidden activation are noised, the output is not (the
paper's convention; ``inject_output`` gives one notebook's variant). Injection builds new
tensors (``torch.add`` / ``torch.addcmul``), never writes into an activation autograd saved.

The M-draw loss L~_M = (1/M) sum_m L~(B; w, eps^(m)) runs as one forward pass on the batch
tiled M times (draw-major: row m*B + n is example n under draw m). All noise for a step (every
layer, every draw) comes from one ``normal_`` call into one float32 buffer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from gnitails.config import ConfigError, with_defaults
from gnitails.losses import LossFn
from gnitails.models import Net, Tap

MODES = ("additive", "multiplicative")


@dataclass(frozen=True)
class NoiseSpec:
    """Where and how much noise: ``sigmas[k]`` is the std at h_k (0 = none), k = 0 .. L."""

    mode: str
    sigmas: tuple[float, ...]

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError(f"noise.mode: expected one of {MODES}, got {self.mode!r}")
        if any(not math.isfinite(s) or s < 0 for s in self.sigmas):
            raise ConfigError(f"noise.sigma: stds must be finite and >= 0, got {self.sigmas}")

    @property
    def layers(self) -> tuple[int, ...]:
        """Indices k of the noised activations."""
        return tuple(k for k, s in enumerate(self.sigmas) if s > 0)

    @property
    def multiplicative(self) -> bool:
        return self.mode == "multiplicative"

    @classmethod
    def from_config(cls, noise_cfg: Mapping, n_layers: int) -> NoiseSpec:
        """σ_0 .. σ_L from the config's ``noise`` block for a net with L = ``n_layers`` layers.

        ``sigma`` is one std for every noised layer, or a list of L + 1 stds for h_0 .. h_L
        (0 = no noise). ``inject_input`` / ``inject_output`` switch h_0 / h_L off either way.
        Missing keys take the schema's defaults.
        """
        noise_cfg = with_defaults(noise_cfg, "noise")
        sigma = noise_cfg["sigma"]
        n_acts = n_layers + 1
        if isinstance(sigma, Sequence) and not isinstance(sigma, str):
            if len(sigma) != n_acts:
                raise ConfigError(
                    f"noise.sigma: a list needs one std per activation h_0 .. h_L, i.e. "
                    f"{n_acts} for this {n_layers}-layer model, got {len(sigma)}"
                )
            sigmas = [float(s) for s in sigma]
        else:
            sigmas = [float(sigma)] * n_acts
        if not noise_cfg["inject_input"]:
            sigmas[0] = 0.0
        if not noise_cfg["inject_output"]:
            sigmas[-1] = 0.0
        return cls(noise_cfg["mode"], tuple(sigmas))


class NoiseSampler:
    """Draws eps for every noised layer and M draws with one ``normal_`` call (float32).

    With ``reuse_buffer`` the same memory is refilled at every draw, which saves the
    allocation (a third of the drawing time on CPU); the tensors of the previous draw are then
    overwritten, so only use it when they are dead (as in a training step after backward).
    """

    def __init__(
        self,
        spec: NoiseSpec,
        activation_shapes: Sequence[Sequence[int]],
        generator: torch.Generator,
        reuse_buffer: bool = False,
    ):
        if len(activation_shapes) != len(spec.sigmas):
            raise ValueError(
                f"noise spec has {len(spec.sigmas)} stds but the net has "
                f"{len(activation_shapes)} activations"
            )
        self.spec = spec
        self.shapes = {k: tuple(activation_shapes[k]) for k in spec.layers}
        self.generator = generator
        self.reuse_buffer = reuse_buffer
        self._buffer: Tensor | None = None

    def numel(self, rows: int) -> int:
        return rows * sum(math.prod(s) for s in self.shapes.values())

    def draw(self, rows: int) -> dict[int, Tensor]:
        """Standard normal eps_k of shape (rows, *shape_k) for every noised layer k."""
        total = self.numel(rows)
        device = self.generator.device
        buf = self._buffer
        if buf is None or buf.numel() != total or not self.reuse_buffer:
            buf = torch.empty(total, dtype=torch.float32, device=device)
            if self.reuse_buffer:
                self._buffer = buf
        buf.normal_(generator=self.generator)
        eps, start = {}, 0
        for k, shape in self.shapes.items():
            n = rows * math.prod(shape)
            eps[k] = buf[start : start + n].view(rows, *shape)
            start += n
        return eps


def injector(spec: NoiseSpec, eps: Mapping[int, Tensor]) -> Tap:
    """A forward tap adding sigma_k eps_k (or multiplying by 1 + sigma_k eps_k) at h_k."""
    sigmas = spec.sigmas
    multiplicative = spec.multiplicative

    def tap(k: int, h: Tensor) -> Tensor:
        e = eps.get(k)
        if e is None:
            return h
        if multiplicative:
            return torch.addcmul(h, h, e, value=sigmas[k])  # h + sigma h eps
        return torch.add(h, e, alpha=sigmas[k])

    return tap


def tile(t: Tensor, m: int) -> Tensor:
    """Stack ``m`` copies of a batch, draw-major (row m*B + n is example n)."""
    if m == 1:
        return t
    return t.repeat(m, *([1] * (t.dim() - 1)))


def noisy_forward(net: Net, x: Tensor, spec: NoiseSpec, eps: Mapping[int, Tensor]) -> Tensor:
    """The network's output with the given noise; ``x`` must already be tiled to eps' rows."""
    return net(x, tap=injector(spec, eps))


def noisy_loss(
    net: Net,
    x: Tensor,
    y: Tensor,
    per_example_loss: LossFn,
    spec: NoiseSpec,
    m: int,
    sampler: NoiseSampler,
) -> Tensor:
    """L~_M on the batch (x, y): mean over M independent draws, one batched forward pass."""
    eps = sampler.draw(m * len(x))
    out = noisy_forward(net, tile(x, m), spec, eps)
    return per_example_loss(out, tile(y, m)).mean()


def noisy_loss_loop(
    net: Net,
    x: Tensor,
    y: Tensor,
    per_example_loss: LossFn,
    spec: NoiseSpec,
    m: int,
    eps: Mapping[int, Tensor],
) -> Tensor:
    """The same L~_M as :func:`noisy_loss` from the same draws, one forward per draw.

    Reference for tests and benchmarks; ``eps`` holds M * len(x) rows, draw-major.
    """
    b = len(x)
    total = x.new_zeros(())
    for d in range(m):
        eps_d = {k: e[d * b : (d + 1) * b] for k, e in eps.items()}
        total = total + per_example_loss(noisy_forward(net, x, spec, eps_d), y).mean()
    return total / m

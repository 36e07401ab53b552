"""The training variants: what one SGD step minimises, and what happens after its backward.

One object per variant; :func:`variant_for` picks it for a run. Each holds its own generators
and state, so the training loop needs no branch per variant, and a new variant is one class
here plus its rule name in :mod:`gnitails.runs`.

- :class:`Clean`: the clean loss L (``baseline``, and any rule whose noise is all zero).
- :class:`NoisyLoss`: L~_M, one batched forward over M tiled copies (``gni``: M = 1, ``m{M}``).
- :class:`Explicit`: L + R, R the explicit regulariser (``explicit``).
- :class:`Replacing`: a mean objective plus noise fitted to the implicit-effect noise, added
  to the gradient after backward (``replace_*``; :mod:`gnitails.replacement`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor

from gnitails.gni import NoiseSampler, NoiseSpec, noisy_loss
from gnitails.losses import LossFn
from gnitails.models import Net
from gnitails.regulariser import regulariser
from gnitails.replacement import Replacement
from gnitails.runs import REPLACEMENT_RULES, RunSpec


class Variant:
    """The clean loss; the base of every variant."""

    records_regulariser = False  # metrics' `regulariser` column holds R (else NaN)
    divergence_is_outcome = False  # a non-finite loss is a result, not a failed run
    checks: list[dict] | None = None  # rows of replacement.CHECK_COLUMNS, if it keeps any

    def __init__(self, net: Net, loss_fn: LossFn):
        self.net, self.loss_fn = net, loss_fn

    def objective(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor | None]:
        """What SGD minimises on the batch, and R if it has one."""
        return self.loss_fn(self.net(xb), yb).mean(), None

    def after_backward(self, step: int, xb: Tensor, yb: Tensor) -> None:
        """Change the gradients before the optimiser step (most variants: nothing)."""

    def state(self) -> dict:
        return {}

    def load(self, state: Mapping) -> None:
        pass


Clean = Variant


class NoisyLoss(Variant):
    def __init__(self, net: Net, loss_fn: LossFn, noise: NoiseSpec, m: int, sampler: NoiseSampler):
        super().__init__(net, loss_fn)
        self.noise, self.m, self.sampler = noise, m, sampler

    def objective(self, xb, yb):
        return noisy_loss(self.net, xb, yb, self.loss_fn, self.noise, self.m, self.sampler), None


class Explicit(Variant):
    records_regulariser = True

    def __init__(self, net: Net, loss_fn: LossFn, noise: NoiseSpec, task: str, r_options: Mapping):
        super().__init__(net, loss_fn)
        self.noise, self.task, self.r_options = noise, task, dict(r_options)

    def objective(self, xb, yb):
        r, out = regulariser(self.net, xb, self.task, self.noise, **self.r_options)
        return self.loss_fn(out, yb).mean() + r, r


class Replacing(Variant):
    divergence_is_outcome = True

    def __init__(self, replacement: Replacement):
        super().__init__(replacement.net, replacement.loss_fn)
        self.replacement = replacement
        self.records_regulariser = replacement.mean == "explicit"

    @property
    def checks(self) -> list[dict]:
        return self.replacement.checks

    def objective(self, xb, yb):
        return self.replacement.objective(xb, yb)

    def after_backward(self, step, xb, yb):
        self.replacement.perturb(step, xb, yb)

    def state(self) -> dict:
        return {"replacement": self.replacement.state()}

    def load(self, state):
        self.replacement.load(state["replacement"])


def variant_for(
    run: RunSpec,
    net: Net,
    loss_fn: LossFn,
    noise: NoiseSpec,
    task: str,
    spec,
    *,
    sampler: NoiseSampler,
    r_options: Mapping,
    replace_generator,
    log: Callable[[str], None],
    label: str,
) -> Variant:
    """The variant of ``run`` (``spec``: the run's TrainingSpec). ``sampler`` draws the GNI
    noise, ``r_options`` (estimator, probes, generator) set R, ``replace_generator`` draws the
    replacement arms' K draws and noise."""
    if run.rule in REPLACEMENT_RULES:
        return Replacing(
            Replacement(
                run.rule, net, noise, task, loss_fn,
                mean=spec.replace_mean, m=spec.replace_m, refit_every=spec.replace_refit_every,
                draws=spec.replace_draws, mean_sampler=sampler, generator=replace_generator,
                r_options=r_options, log=log, label=label,
            )
        )  # fmt: skip
    if run.rule == "explicit":
        return Explicit(net, loss_fn, noise, task, r_options)
    if run.rule == "baseline" or not noise.layers:
        return Clean(net, loss_fn)
    return NoisyLoss(net, loss_fn, noise, run.m, sampler)

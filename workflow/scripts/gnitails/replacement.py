"""The stable-replacement experiment: a mean gradient plus noise from a law fitted to Z.

Every step the update uses g = grad(mean objective) + xi, with the mean objective L~_M (M =
``replace_m``, tiled as in training) or L + R (``replace_mean: explicit``), and xi drawn from a
model of the implicit-effect noise Z = grad L~_1 - grad(mean objective) on the same batch. The
model is refitted every ``replace_refit_every`` steps (from step 0) from K = ``replace_draws``
independent single-draw gradients at the current weights and batch (one vectorised
forward/backward, ``torch.func.vmap``): Z_k = grad L~_1(eps_k) - grad(mean objective).

Corrected arms (xi follows the law of Z, entry by entry):

- Per-entry scales. Entry j's K draws give a robust centre c_j (the median) and scale s_j
  (sqrt(pi/2) x the mean absolute deviation from c_j, which is the sd for Gaussian noise).
  The mean absolute deviation, not the MAD: with K = 16 a MAD standardisation turns Gaussian
  entries into a scale mixture whose fitted alpha is ~1.8 (kurtosis ~3); the mean absolute
  deviation, which includes the draw being standardised, gives alpha ~2.0 on Gaussian entries
  and recovers alpha = 1.5 on stable ones. Entries whose K draws are all equal (no noise
  reaches them: a dead unit) get s_j = 0 and no noise.
- A point mass at the centre. A ReLU unit that only some noise draws switch on gives its
  weights' Z_kj exactly c_j in the other draws (the unit's gradient is exactly zero there).
  Entry j's active share a_j is the fraction of its K draws that differ from c_j, and s_j and
  the standardised draws use those draws only; xi_j is 0 with probability 1 - a_j. Pooling
  the ties instead puts a point mass at 0 into the standardised sample, which the ECF fit
  reads as alpha ~ 0.2 (multiplicative sin_mult after ~700 steps, 35-58% of a hidden weight's
  draws tied): draws of that law were 1e8-1e22 times Z and every run diverged.
- One law per layer. The standardised draws S_kj = (Z_kj - c_j) / s_j of a layer's weight and
  bias (a bias is the weight of a constant input) are pooled, active draws of live entries,
  re-centred to mean zero and fitted by ECF: (alpha, beta, gamma, delta0). xi is noise around
  the mean gradient: the per-entry centres c_j (e.g. the ReLU-kink term's gradient, which R
  leaves out, under an ``explicit`` mean) are not part of it.
- ``replace_s1`` (the stable arm; the name is historical): xi_j = s_j X, X from the fitted law
  **with its fitted location, drawn in S0 form**. The S0 form is continuous at alpha = 1, so
  near alpha = 1 the draw is the fitted law, not a law moved by beta gamma tan(pi alpha / 2)
  (the S1 location-0 choice put layer-1 noise at 106x Z's norm at alpha ~ 1.003). With the
  sample centred, delta0 is near 0, and for alpha away from 1 the law is close to S1 with
  location 0 (mean zero). No clamping of alpha: xi keeps the law fitted to Z.
- ``replace_gauss``: xi_j = s_j N(0, 2 gamma^2), the Gaussian of the same per-entry scales,
  active shares and fitted standardised scale gamma (the alpha = 2 stable law of that scale):
  it differs from the stable arm only in the tails and skew, not in scale (a variance match
  would let the sample's largest draws set the scale).

The authors' scheme (``InjectingStableNoise.ipynb``), as its own arms:

- ``replace_authors``: per layer, one stable law fitted to the pooled raw entries of the
  weight's Z from one draw (biases get no noise; exact zeros, a point mass, are left out of the
  fit), injected as S0 with location 0, i.i.d. per weight entry. Its mean is
  -beta s tan(pi alpha / 2) per step, and its pooled fit describes the entries' scale mixture.
- ``replace_authors_gauss``: the same with alpha fixed to 2: N(0, 2 s^2), s the pooled fitted
  scale (what the authors' alpha = 2 path meant to give; their code for it crashed).

A check is logged at each refit and kept as rows of :data:`CHECK_COLUMNS`: per tensor, K draws
of xi against the K draws of Z (centred per entry at c_j): the ratio of median norms, of the
99% quantiles and of the maxima of |xi| and |Z| over all K draws, and the norm ratio against
the raw Z (including the per-entry offsets c_j that xi leaves out). The check's draws come from
a generator seeded by (the replacement seed, step), so the check does not move training's
noise stream.

A layer with too few live draws for a fit, or whose fit fails (e.g. non-finite Z once a run
diverged), gets no noise until a refit succeeds. The K draws and xi come from their own
generator, so the mean objective sees the same noise stream as the matching control run: with
xi = 0 a replacement run is that run. xi is drawn ahead for the steps up to the next refit, one
draw call per layer (a call costs far more than its numbers on small layers). The checkpoint
holds the generator state, the state before the current draw-ahead (a resumed run redraws
it), the current laws and the check rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap

from gnitails.gni import NoiseSampler, NoiseSpec, injector, noisy_loss
from gnitails.losses import LossFn
from gnitails.models import Net
from gnitails.regulariser import regulariser
from gnitails.stable import fit, sample
from gnitails.stable.sampler import MAX_OVERFLOW, overflow_share

KINDS = {
    "replace_s1": "stable",
    "replace_gauss": "gauss",
    "replace_authors": "authors",
    "replace_authors_gauss": "authors_gauss",
}
MEANS = ("lm", "explicit")
MIN_ENTRIES = 20  # the stable fit's minimum sample size
MIN_DRAWS = 16  # K: fewer draws give per-entry scales too noisy to standardise by
BUFFER_ENTRIES = 1 << 24  # most numbers of xi drawn ahead at once (64 MB in float32)
MEAN_ABS_TO_SD = math.sqrt(math.pi / 2)  # E|N(0, 1)| = sqrt(2 / pi)
CHECK_COLUMNS = (
    "step",  # the refit's step
    "tensor",  # parameter name
    "alpha",  # the law's stability index (2 for the Gaussian arms; NaN: no noise)
    "beta",  # skewness
    "scale",  # gamma: of the standardised law (corrected arms) or of the raw entries (authors)
    "loc",  # S0 location of the same law
    "norm_ratio",  # median_k ||xi_k|| / median_k ||Z_k - c||
    "q99_ratio",  # 99% quantile of |xi| / of |Z - c|, over all K draws and entries
    "max_ratio",  # max |xi| / max |Z - c| over the K draws
    "raw_norm_ratio",  # median_k ||xi_k|| / median_k ||Z_k|| (Z uncentred)
)


# --------------------------------------------------------------------------- the K draws


def single_draw_gradients(
    net: Net, x: Tensor, y: Tensor, loss_fn: LossFn, spec: NoiseSpec, eps: Mapping[int, Tensor]
) -> dict[str, Tensor]:
    """grad L~_1(eps_k) for every draw k: parameter name -> (K, *shape).

    ``eps`` holds K * len(x) rows per noised layer, draw-major (as :func:`gni.tile`); the K
    gradients come from one vectorised pass (bit-identical to a loop over draws on CPU).
    """
    b = len(x)
    draws = {k: e.reshape(-1, b, *e.shape[1:]) for k, e in eps.items()}
    params = {n: p.detach() for n, p in net.named_parameters()}

    def one(p: dict[str, Tensor], e: dict[int, Tensor]) -> Tensor:
        out = functional_call(net, p, (x,), {"tap": injector(spec, e)})
        return loss_fn(out, y).mean()

    return vmap(grad(one), in_dims=(None, 0))(params, draws)


def entry_scales(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-entry centre (median over draws, axis 0), scale (sqrt(pi/2) mean |z - median| over
    the draws that differ from the median) and active share (the fraction of such draws).

    An entry whose draws are all equal gets scale 0 and share 0; non-finite draws give a
    non-finite scale.
    """
    centre = np.median(z, axis=0)
    active = z != centre
    share = active.mean(axis=0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        dev = np.abs(z - centre).sum(axis=0) / active.sum(axis=0)
    scale = np.where(share > 0, MEAN_ABS_TO_SD * dev, 0.0)
    return centre, scale, share


def standardised_sample(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pooled standardised active draws of the live entries, re-centred to mean zero, with
    the per-entry scales and active shares (both 0 for dead entries). ``z`` is K x entries."""
    centre, scale, share = entry_scales(z)
    live = np.isfinite(scale) & (scale > 0)
    zl, cl = z[:, live], centre[live]
    s = ((zl - cl) / scale[live])[zl != cl]
    if s.size:
        s = s - s.mean()
    return s, np.where(live, scale, 0.0), np.where(live, share, 0.0)


def _fit(x: np.ndarray) -> dict | None:
    """(alpha, beta, scale, S0 loc) of an ECF fit, or None (too few points, constant, failed)."""
    x = x[np.isfinite(x)]
    if x.size < MIN_ENTRIES or x.min() == x.max():
        return None
    try:
        r = fit(x, "ecf", "S0", uncertainty="none", moments=False)
    except ValueError:
        return None
    law = {"alpha": r.alpha, "beta": r.beta, "scale": r.scale, "loc": r.loc}
    if not (all(math.isfinite(v) for v in law.values()) and r.scale > 0):
        return None
    return law


def _layers(names) -> dict[str, list[str]]:
    """Parameter names grouped by layer (``layers.1.weight`` and ``layers.1.bias``)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.rpartition(".")[0], []).append(name)
    return groups


def fit_entry_laws(z: Mapping[str, Tensor], gauss: bool) -> dict[str, dict | None]:
    """The corrected arms' laws from K draws of Z (name -> (K, *shape)), keyed like ``z``.

    A layer's tensors share one standardised law and each has its per-entry ``scales`` and
    ``active`` shares.
    ``gauss`` keeps the fitted gamma with alpha = 2 (N(0, 2 gamma^2)) and location 0.
    """
    laws: dict[str, dict | None] = {}
    for names in _layers(z).values():
        arrs = [z[n].detach().double().cpu().numpy() for n in names]
        k = arrs[0].shape[0]
        joint = np.concatenate([a.reshape(k, -1) for a in arrs], axis=1)
        sample_, scales, shares = standardised_sample(joint)
        law = _fit(sample_)
        if law is not None and gauss:
            law = {"alpha": 2.0, "beta": 0.0, "scale": law["scale"], "loc": 0.0}
        start = 0
        for name, a in zip(names, arrs, strict=True):
            n = a[0].size
            if law is None:
                laws[name] = None
            else:
                per_entry = {
                    key: torch.from_numpy(v[start : start + n].reshape(a.shape[1:])).to(
                        z[name].device, z[name].dtype
                    )
                    for key, v in (("scales", scales), ("active", shares))
                }
                laws[name] = {**law, **per_entry}
            start += n
    return laws


def fit_authors_laws(z0: Mapping[str, Tensor], gauss: bool) -> dict[str, dict | None]:
    """The authors' laws from one draw of Z (name -> tensor): per weight, its pooled raw
    entries (exact zeros left out), S0 location 0; ``gauss`` sets alpha = 2. Biases: None."""
    laws: dict[str, dict | None] = {}
    for name, t in z0.items():
        law = None
        if name.rpartition(".")[2] == "weight":
            x = t.detach().double().cpu().numpy().ravel()
            law = _fit(x[x != 0])
        if law is not None:
            law = {**law, "loc": 0.0}
            if gauss:
                law = {**law, "alpha": 2.0, "beta": 0.0}
        laws[name] = law
    return laws


# --------------------------------------------------------------------------- drawing xi


PER_ENTRY = ("scales", "active")  # a corrected law's per-entry tensors


def draw(law: Mapping, shape, generator, dtype=torch.float32):
    """xi of ``shape`` from ``law``: alpha = 2 as N(loc, 2 scale^2), else stable in S0 form
    with the law's location; times the per-entry ``scales`` and zero where a uniform draw
    exceeds the per-entry ``active`` share, if the law has them (``shape`` then ends with
    theirs; the uniforms are drawn after the noise, from the same generator).

    ``generator`` is a torch.Generator (a tensor on its device) or a numpy Generator (float64
    ndarray: the kick check's draws).
    """
    args = (law["alpha"], law["beta"], law["scale"], law["loc"], tuple(shape))
    scales, active = law.get("scales"), law.get("active")
    if not isinstance(generator, torch.Generator):
        xi = sample(*args, parametrization="S0", seed=generator, threads=1)  # alpha 2: N(loc, 2s^2)
        if scales is not None:
            xi = xi * scales.double().cpu().numpy()
        if active is not None:
            xi = xi * (generator.random(xi.shape) < active.double().cpu().numpy())
        return xi
    if law["alpha"] == 2.0:
        xi = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
        xi = xi * (math.sqrt(2) * law["scale"]) + law["loc"]
    else:
        precision = "float32" if dtype == torch.float32 else "float64"
        if overflow_share(law["alpha"], law["scale"], np.float32) > MAX_OVERFLOW:
            # A pooled fit can give alpha ~ 0.1, whose draws overflow float32: draw in float64
            # and let the cast make them +-inf, which is what such a law injects.
            precision = "float64"
        xi = sample(
            *args, parametrization="S0", dtype=precision, seed=generator, backend="torch",
            device=generator.device,
        ).to(dtype)  # fmt: skip
    if scales is not None:
        xi = xi * scales.to(xi.dtype)
    if active is not None:
        u = torch.rand(xi.shape, generator=generator, device=generator.device, dtype=xi.dtype)
        xi = xi * (u < active.to(xi.dtype))
    return xi


# --------------------------------------------------------------------------- the check


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and math.isfinite(b) else math.nan


def kick_check(
    step: int, laws: Mapping[str, Mapping | None], z: Mapping[str, Tensor], seed: int = 0
) -> list[dict]:
    """Rows of :data:`CHECK_COLUMNS` comparing K draws of xi with the K draws of Z.

    ``z`` maps names to (K, *shape) draws of the raw Z; xi's K draws are seeded by (``seed``,
    ``step``), so the check leaves training's noise stream alone.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(step)]))
    rows = []
    for name, t in z.items():
        zk = t.detach().double().cpu().numpy()
        law = laws.get(name)
        xi = np.zeros_like(zk) if law is None else np.abs(draw(law, zk.shape, rng))
        zk, xi = zk.reshape(len(zk), -1), xi.reshape(len(zk), -1)
        with np.errstate(invalid="ignore", over="ignore"):
            zc = np.abs(zk - np.median(zk, axis=0))
            q_z, q_xi = np.quantile(zc, 0.99), np.quantile(xi, 0.99)
            norm_xi = float(np.median(np.linalg.norm(xi, axis=1)))
            norm_zc = float(np.median(np.linalg.norm(zc, axis=1)))
            norm_z = float(np.median(np.linalg.norm(zk, axis=1)))
        params = {c: math.nan if law is None else float(law[c]) for c in CHECK_COLUMNS[2:6]}
        rows.append(
            {
                "step": int(step),
                "tensor": name,
                **params,
                "norm_ratio": _ratio(norm_xi, norm_zc),
                "q99_ratio": _ratio(float(q_xi), float(q_z)),
                "max_ratio": _ratio(float(xi.max()), float(zc.max())),
                "raw_norm_ratio": _ratio(norm_xi, norm_z),
            }
        )
    return rows


def describe_check(rows: list[dict]) -> str:
    """One compact line: per tensor a, norm / q99 / max ratios of |xi| to |Z|."""
    parts = []
    for r in rows:
        law = "none" if math.isnan(r["alpha"]) else f"a={r['alpha']:.2f} b={r['beta']:+.2f}"
        parts.append(
            f"{r['tensor']} {law} {r['norm_ratio']:.2g}/{r['q99_ratio']:.2g}/{r['max_ratio']:.2g}"
        )
    return "; ".join(parts)


# --------------------------------------------------------------------------- the arm


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
        draws: int = MIN_DRAWS,
        mean_sampler: NoiseSampler,
        generator: torch.Generator,
        r_options: Mapping | None = None,
        log: Callable[[str], None] = lambda _msg: None,
        label: str = "",
    ):
        if rule not in KINDS:
            raise ValueError(f"replacement rule must be one of {sorted(KINDS)}, got {rule!r}")
        if mean not in MEANS:
            raise ValueError(f"training.replace_mean: expected one of {MEANS}, got {mean!r}")
        if draws < MIN_DRAWS:
            raise ValueError(f"training.replace_draws: expected >= {MIN_DRAWS}, got {draws}")
        self.kind = KINDS[rule]
        self.net, self.noise, self.task, self.loss_fn = net, noise, task, loss_fn
        self.mean, self.m, self.refit_every, self.draws = mean, m, refit_every, draws
        self.mean_sampler = mean_sampler
        self.r_options = dict(r_options or {})  # estimator, probes, generator of R
        self.generator = generator
        self.check_seed = generator.initial_seed()
        self.draw_sampler = NoiseSampler(noise, net.activation_shapes, generator)
        self.groups = _layers(n for n, _ in net.named_parameters())
        self.laws: dict[str, dict | None] = {}
        self.buffer: Tensor | None = None  # xi of steps buffer_start, ... (rows)
        self.buffer_start = 0
        self.buffer_state: Tensor | None = None  # the generator's state before the fill
        self.checks: list[dict] = []
        self.log = log
        self.label = label
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
        if not self.noise.layers:
            return
        if step % self.refit_every == 0:
            self._refit(xb, yb, step)
        params = dict(self.net.named_parameters())
        with torch.no_grad():
            for name, xi in self.xi(step).items():
                params[name].grad.add_(xi)

    def xi(self, step: int) -> dict[str, Tensor]:
        """Step ``step``'s noise for every parameter that gets some (name -> tensor)."""
        if self.buffer is None or step >= self.buffer_start + len(self.buffer):
            self._fill(step)
        row = self.buffer[step - self.buffer_start]
        params = dict(self.net.named_parameters())
        out, start = {}, 0
        for names in self.groups.values():
            for name in names:
                if self.laws.get(name) is None:
                    continue
                p = params[name]
                out[name] = row[start : start + p.numel()].view(p.shape)
                start += p.numel()
        return out

    def _fill(self, step: int) -> None:
        """Draw xi of the steps from ``step`` to the next refit (fewer if that
        exceeds BUFFER_ENTRIES numbers): one draw call per layer, since a call costs far more
        than its numbers on small layers. The generator state before the fill is kept, so a
        resumed run redraws the same buffer."""
        self.buffer_state, self.buffer_start = self.generator.get_state(), step
        params = dict(self.net.named_parameters())
        blocks = []
        for names in self.groups.values():
            live = [n for n in names if self.laws.get(n) is not None]
            if live:
                law = dict(self.laws[live[0]])  # one law per layer; per-entry parts joined
                for key in PER_ENTRY:
                    if key in law:
                        law[key] = torch.cat([self.laws[n][key].reshape(-1) for n in live])
                blocks.append((law, sum(params[n].numel() for n in live), params[live[0]].dtype))
        width = sum(n for _, n, _ in blocks)
        length = self.refit_every - step % self.refit_every
        length = max(1, min(length, BUFFER_ENTRIES // max(width, 1)))
        dtype = next(iter(params.values())).dtype
        dev = self.generator.device
        self.buffer = torch.cat(
            [torch.zeros(length, 0, dtype=dtype, device=dev)]
            + [draw(law, (length, n), self.generator, dt) for law, n, dt in blocks],
            dim=1,
        )

    def _refit(self, xb: Tensor, yb: Tensor, step: int) -> None:
        eps = self.draw_sampler.draw(self.draws * len(xb))
        g = single_draw_gradients(self.net, xb, yb, self.loss_fn, self.noise, eps)
        z = {n: g[n] - p.grad for n, p in self.net.named_parameters()}
        if self.kind in ("stable", "gauss"):
            self.laws = fit_entry_laws(z, gauss=self.kind == "gauss")
        else:
            self.laws = fit_authors_laws({n: t[0] for n, t in z.items()}, self.kind != "authors")
        self.buffer = None  # drawn from the new laws at the next step
        rows = kick_check(step, self.laws, z, seed=self.check_seed)
        self.checks += rows
        where = f"{self.label}: " if self.label else ""
        check = describe_check(rows)
        self.log(f"{where}replacement refit at step {step}, |xi|/|Z| norm/q99/max: {check}")
        self.refits += 1

    def state(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "laws": dict(self.laws),
            "buffer": None if self.buffer is None else (self.buffer_start, self.buffer_state),
            "checks": list(self.checks),
            "refits": self.refits,
        }

    def load(self, state: Mapping) -> None:
        self.laws = dict(state["laws"])
        self.checks = list(state["checks"])
        self.refits = state["refits"]
        self.buffer = None
        if state["buffer"] is not None:  # redraw the current buffer as it was drawn
            start, before = state["buffer"]
            self.generator.set_state(before)
            self._fill(start)
        self.generator.set_state(state["generator"])

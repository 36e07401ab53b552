"""One SGD loop for every training rule, with evaluation, snapshots, checkpoints and resume.

Rules (the run directory name in brackets):

- ``baseline`` [baseline]: the clean loss L, no noise.
- ``gni`` [gni]: one noise draw per step, L~_1.
- ``gni_m`` [m{M}]: the M-draw loss L~_M, one batched forward pass over M tiled copies.
- ``explicit`` [explicit]: L + R, R the explicit regulariser, no noise.
- ``replace_s1`` | ``replace_gauss`` | ``replace_authors`` | ``replace_authors_gauss`` [same]:
  the gradient of a mean objective (L~_M or L + R) plus noise drawn from a law fitted to the
  current implicit-effect noise (:mod:`gnitails.replacement`); they also write
  ``replacement_checks.parquet`` (the noise check of every refit).

:func:`train_runs` trains every seed of one run in one process (the fixed cost of starting
Python and torch is paid once per run, not per seed) and writes the run's outputs:
``metrics.parquet`` (all seeds, a ``seed`` column first), ``models.pt`` (every seed's final
weights and its snapshots, the weights at the steps ``dump_noise`` needs) and, for replacement
arms, ``replacement_checks.parquet``.

Randomness comes from generators derived from the seed (init, data order, noise, R probes,
replacement noise), so a seed gives every rule the same initial weights and minibatch order,
whichever other seeds share the process. Every ``checkpoint_every`` steps, and at the end, a
seed's whole state (weights, generator states, data order, metric rows, snapshots,
step) goes atomically to ``state_dir/seed{s}/state.pt``; a run started again with the same
settings continues from there and, on CPU, ends bit-identical to an uninterrupted run. A
finished seed's state stays, so adding a seed to the config trains only the new one. The
state is reused only if the settings, the data and the library's source are unchanged.
Outputs are written only at the end, so a workflow manager deleting half-finished outputs
loses nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from gnitails.atomic import atomic_path
from gnitails.config import ConfigError, with_defaults
from gnitails.data.prepared import Prepared
from gnitails.errors import InputFileError, TrainingDivergedError, rebuild_hint
from gnitails.gni import NoiseSampler, NoiseSpec
from gnitails.losses import accuracy, per_example_loss
from gnitails.models import ModelSpec, Net, build_model
from gnitails.progress import Progress, format_duration, stderr_log
from gnitails.replacement import CHECK_COLUMNS
from gnitails.runs import REPLACEMENT_RULES, RunSpec, replacement_control
from gnitails.variants import variant_for

RULES = ("baseline", "gni", "gni_m", "explicit", *REPLACEMENT_RULES)
METRIC_COLUMNS = (
    "step",  # SGD updates done (0 = initial weights)
    "epoch",  # step / steps per epoch
    "train_loss",  # clean loss on the whole training set
    "test_loss",  # clean loss on the whole test set
    "test_accuracy",  # fraction correct on the test set (NaN for regression)
    "objective",  # what SGD minimised (L~_M, L or L + R) averaged over steps since last row
    "regulariser",  # R averaged over the same steps (explicit rule or mean; NaN otherwise)
    "wall_time",  # seconds of training so far, summed over resumed sessions
)
MODELS_FORMAT = "gnitails-models-1"
STATE_FORMAT = "gnitails-train-state-4"
STATE_FILE = "state.pt"
METRICS_FILE = "metrics.parquet"  # every seed's metric rows
MODELS_FILE = "models.pt"  # every seed's final weights and snapshots
CHECKS_FILE = "replacement_checks.parquet"  # replacement runs: the noise check per refit
EVAL_CHUNK = 4096


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainingSpec:
    lr: float
    steps: int | None  # exactly one of steps and epochs is given
    epochs: int | None
    batch_size: int | None
    eval_every: int | None
    eval_every_epochs: int | None
    checkpoint_every: int
    r_estimator: str
    r_probes: int
    replace_refit_every: int
    replace_mean: str
    replace_m: int
    replace_draws: int

    @classmethod
    def from_config(cls, cfg: Mapping) -> TrainingSpec:
        """From a ``training`` block; missing keys take the schema's defaults."""
        cfg = with_defaults(cfg, "training")
        return cls(**{k: cfg.get(k) for k in cls.__dataclass_fields__})

    def batch(self, n_train: int) -> int:
        """Examples per step (the whole set when batch_size is null)."""
        return n_train if self.batch_size is None else self.batch_size

    def steps_per_epoch(self, n_train: int) -> int:
        return math.ceil(n_train / self.batch(n_train))

    def total_steps(self, n_train: int) -> int:
        if self.steps is not None:
            return self.steps
        return self.epochs * self.steps_per_epoch(n_train)


def validate_experiment(experiment: Mapping, where: str = "experiment") -> dict:
    """A validated deep copy of one experiment block, defaults filled from the schema.

    Raises ConfigError naming ``{where}.{key}`` for every problem (the same messages the
    pipeline's config validation gives).
    """
    training = experiment.get("training") if isinstance(experiment, Mapping) else None
    if isinstance(training, Mapping) and ("steps" in training) == ("epochs" in training):
        raise ConfigError(f"{where}.training: give exactly one of `steps` and `epochs`")
    return with_defaults(experiment, "experiment", where)


def _check_run_against_config(exp: Mapping, run: RunSpec, where: str) -> None:
    training = exp["training"]
    if run.name == replacement_control(exp):
        return  # the replacement arms' control: trained whatever the rules say
    if run.rule not in training["rules"]:
        raise ConfigError(
            f"{where}.training.rules: run {run.name!r} needs rule {run.rule!r}, "
            f"but the experiment lists {training['rules']}"
        )
    if run.rule == "gni_m" and run.m not in training["m_values"]:
        raise ConfigError(
            f"{where}.training.m_values: run {run.name!r} needs M = {run.m}, "
            f"but the experiment lists {training['m_values']}"
        )


def _check_data_against_config(exp: Mapping, data: Prepared, where: str) -> None:
    n_train = len(data.x_train)
    batch_size = exp["training"]["batch_size"]
    if batch_size is not None and batch_size > n_train:
        raise ConfigError(
            f"{where}.training.batch_size: {batch_size} exceeds the {n_train} training examples"
        )
    if exp["model"]["arch"] == "convnet" and data.x_train.ndim != 4:
        raise ConfigError(
            f"{where}.model.arch: convnet needs N x C x H x W images, got inputs of shape "
            f"{data.x_train.shape}"
        )


# --------------------------------------------------------------------------- helpers


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _seed_streams(seed: int, n: int) -> list[int]:
    """Independent 63-bit seeds for the run's generators (numpy's SeedSequence spawning)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]


@dataclass
class _Generators:
    init: torch.Generator
    order: torch.Generator
    noise: torch.Generator
    probes: torch.Generator
    replace: torch.Generator  # replacement arms: the fitting draw and the injected noise

    @classmethod
    def from_seed(cls, seed: int, device: torch.device) -> _Generators:
        # spawn(5) keeps the first four streams of spawn(4): earlier runs are unchanged
        s_init, s_order, s_noise, s_probes, s_replace = _seed_streams(seed, 5)
        return cls(
            init=torch.Generator().manual_seed(s_init),
            order=torch.Generator().manual_seed(s_order),
            noise=torch.Generator(device=device).manual_seed(s_noise),
            probes=torch.Generator(device=device).manual_seed(s_probes),
            replace=torch.Generator(device=device).manual_seed(s_replace),
        )

    def state(self) -> dict[str, Tensor]:
        return {k: getattr(self, k).get_state() for k in ("order", "noise", "probes")}

    def load(self, state: Mapping[str, Tensor]) -> None:
        for k, v in state.items():
            getattr(self, k).set_state(v)


class _BatchOrder:
    """Minibatch indices: a fresh permutation every epoch, the last partial batch kept."""

    def __init__(self, n: int, batch: int, generator: torch.Generator, device: torch.device):
        self.n, self.batch, self.generator, self.device = n, batch, generator, device
        self.full = batch >= n
        self.perm: Tensor | None = None
        self.pos = 0

    def next(self) -> Tensor | None:
        if self.full:
            return None
        if self.perm is None or self.pos >= self.n:
            self.perm = torch.randperm(self.n, generator=self.generator).to(self.device)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch]
        self.pos += self.batch
        return idx

    def state(self) -> dict:
        return {"perm": None if self.perm is None else self.perm.cpu(), "pos": self.pos}

    def load(self, state: Mapping) -> None:
        perm = state["perm"]
        self.perm = None if perm is None else perm.to(self.device)
        self.pos = state["pos"]


class _RunningSums:
    """The objective and R summed since the last metrics row (float64, on the device)."""

    def __init__(self, device: torch.device):
        self.objective = torch.zeros((), dtype=torch.float64, device=device)
        self.regulariser = torch.zeros((), dtype=torch.float64, device=device)
        self.n = 0

    def add(self, objective: Tensor, r: Tensor | None) -> None:
        self.objective += objective.detach()  # no .item(): no device sync per step
        if r is not None:
            self.regulariser += r.detach()
        self.n += 1

    def take(self) -> dict[str, float]:
        """Means since the last call (NaN before any step), then reset."""
        nan = float("nan")
        means = {
            "objective": float(self.objective) / self.n if self.n else nan,
            "regulariser": float(self.regulariser) / self.n if self.n else nan,
        }
        self.objective.zero_()
        self.regulariser.zero_()
        self.n = 0
        return means

    def state(self) -> dict:
        return {
            "objective": self.objective.cpu(),
            "regulariser": self.regulariser.cpu(),
            "n": self.n,
        }

    def load(self, state: Mapping) -> None:
        self.objective.copy_(state["objective"])
        self.regulariser.copy_(state["regulariser"])
        self.n = state["n"]


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save through memory: saved to a file, the archive records the file's (temporary,
    random) name, so two identical saves would differ byte-wise."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


@functools.cache
def _source_fingerprint() -> str:
    """A hash of the library's Python source: a saved state is reused only by the same code."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _data_fingerprint(data: Prepared) -> str:
    h = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        arr = np.ascontiguousarray(getattr(data, key))
        h.update(f"{key}{arr.dtype}{arr.shape}".encode())
        h.update(arr.data)
    return h.hexdigest()


@contextlib.contextmanager
def _torch_settings(threads: int | None, deterministic: bool):
    """Set threads and deterministic algorithms (warn only) for the run; restore them afterwards.

    Through the debug mode: torch.use_deterministic_algorithms sets the same flag but first
    imports torch._inductor for its compiler setting (1.4 CPU-s a job; nothing is compiled).
    """
    old_threads = torch.get_num_threads()
    old_mode = torch.get_deterministic_debug_mode()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        if deterministic:
            torch.set_deterministic_debug_mode("warn")
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.set_deterministic_debug_mode(old_mode)


def _sgd_step(params: list[Tensor], lr: float) -> None:
    """w <- w - lr * grad: what torch.optim.SGD does without momentum or weight decay, the
    same operation (add_ with alpha = -lr) and so the same bits. torch.optim imports
    torch._dynamo at its first call (1.4 CPU-s a job), for a compiler this loop never uses."""
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-lr)


def _cpu_state(net: Net) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def save_models(path: str | Path, meta: Mapping, results: Mapping[int, RunResult]) -> None:
    """Every seed's final weights and snapshots plus what :func:`load_model` needs to rebuild
    the net (one atomic write, byte-identical for identical runs)."""
    seeds = {
        int(seed): {"step": r.steps, "state_dict": _cpu_state(r.net), "snapshots": r.snapshots}
        for seed, r in sorted(results.items())
    }
    _atomic_torch_save({"format": MODELS_FORMAT, **meta, "seeds": seeds}, Path(path))


def load_model(
    path: str | Path,
    seed: int | None = None,
    step: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[Net, dict]:
    """Rebuild one seed's net from a run's ``models.pt``: its final weights, or its snapshot at
    ``step``. ``seed`` may be left out when the file holds one seed. Returns (net, meta), meta
    with the run's ids and the seed and step of the weights."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise InputFileError(
            f"{path}: not a readable models file ({type(exc).__name__}); {rebuild_hint(path)}"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != MODELS_FORMAT:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise InputFileError(f"{path} is not a gnitails models file (format {found!r})")
    seeds = blob["seeds"]
    if seed is None:
        if len(seeds) != 1:
            raise ValueError(f"{path} holds seeds {sorted(seeds)}: say which")
        seed = next(iter(seeds))
    if int(seed) not in seeds:
        raise InputFileError(f"{path} has no seed {seed} (it holds {sorted(seeds)})")
    entry = seeds[int(seed)]
    if step is None or step == entry["step"] and step not in entry["snapshots"]:
        state, step = entry["state_dict"], entry["step"]
    elif step in entry["snapshots"]:
        state = entry["snapshots"][step]
    else:
        raise InputFileError(
            f"{path}: seed {seed} has no snapshot of step {step} (it has "
            f"{sorted(entry['snapshots'])}); the train job ran without it, "
            f"{rebuild_hint(path)}"
        )
    net = build_model(blob["model"], blob["input_shape"], blob["output_dim"])
    net.load_state_dict(state)
    meta = {k: v for k, v in blob.items() if k != "seeds"}
    return net.to(resolve_device(device)), {**meta, "seed": int(seed), "step": int(step)}


# --------------------------------------------------------------------------- the loop


@dataclass
class RunResult:
    """One seed of a run: its metric rows, final net, snapshots (step -> weights) and, for a
    replacement arm, its noise checks."""

    metrics: pd.DataFrame
    net: Net
    steps: int
    resumed_from: int  # the step this session started at (0 = fresh, steps = restored)
    snapshots: dict[int, dict[str, Tensor]]
    checks: pd.DataFrame | None = None


class _Evaluator:
    """Clean train/test loss and test accuracy over whole splits, in chunks, without grad."""

    def __init__(self, task: str, tensors: Mapping[str, Tensor]):
        self.task = task
        self.loss = per_example_loss(task)
        self.t = tensors

    @torch.no_grad()
    def _split(self, net: Net, x: Tensor, y: Tensor) -> tuple[float, float]:
        total, correct = 0.0, 0
        for start in range(0, len(x), EVAL_CHUNK):
            out = net(x[start : start + EVAL_CHUNK])
            yy = y[start : start + EVAL_CHUNK]
            total += float(self.loss(out, yy).double().sum())
            if self.task == "classification":
                correct += int(accuracy(out, yy))
        acc = correct / len(x) if self.task == "classification" else float("nan")
        return total / len(x), acc

    def __call__(self, net: Net) -> dict[str, float]:
        train_loss, _ = self._split(net, self.t["x_train"], self.t["y_train"])
        test_loss, test_acc = self._split(net, self.t["x_test"], self.t["y_test"])
        return {"train_loss": train_loss, "test_loss": test_loss, "test_accuracy": test_acc}


def _as_tensors(data: Prepared, device: torch.device) -> dict[str, Tensor]:
    return {
        k: torch.from_numpy(np.ascontiguousarray(getattr(data, k))).to(device)
        for k in ("x_train", "y_train", "x_test", "y_test")
    }


def train_runs(
    experiment: Mapping,
    data: Prepared,
    *,
    run: str | RunSpec,
    seeds: Iterable[int] | None = None,
    out_dir: str | Path,
    state_dir: str | Path | None = None,
    snapshot_steps: Mapping[int, Iterable[int]] | Iterable[int] = (),
    device: str | torch.device = "auto",
    threads: int | None = 1,
    checkpoint_every: int | None = None,
    log: Callable[[str], None] | None = stderr_log,
    progress_every_s: float = 10.0,
    on_step: Callable[[int], None] | None = None,
    where: str = "experiment",
) -> dict[int, RunResult]:
    """Train ``seeds`` (default: the experiment's) of one run of ``experiment`` on ``data``, one
    after the other in this process, and write the run's outputs to ``out_dir``.

    ``run`` is a run name (``baseline``, ``gni``, ``explicit``, ``m16``, ``replace_gauss``) or
    a RunSpec of :func:`gnitails.runs.planned_runs`. Writes ``out_dir/metrics.parquet`` (a
    ``seed`` column, then :data:`METRIC_COLUMNS`), ``out_dir/models.pt`` (read it with
    :func:`load_model`) and for replacement arms ``out_dir/replacement_checks.parquet`` (a
    ``seed`` column, then ``CHECK_COLUMNS``). ``snapshot_steps`` lists the steps whose weights
    go into ``models.pt`` (0 = the initial weights): per seed (a mapping) or for every seed.
    With ``state_dir`` each seed checkpoints to ``state_dir/seed{s}`` every
    ``checkpoint_every`` steps (default: the config's) and at its end, and resumes or restores
    from there. ``on_step(step)`` runs after every step (tests use it to simulate a crash).
    ``threads`` sets torch's intra-op threads (None: leave).
    """
    exp = validate_experiment(experiment, where)
    run = run if isinstance(run, RunSpec) else RunSpec.parse(run)
    _check_run_against_config(exp, run, where)
    data.check(where=f"{where}.dataset")
    _check_data_against_config(exp, data, where)
    seeds = [int(s) for s in (exp["seeds"] if seeds is None else seeds)]
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    spec = TrainingSpec.from_config(exp["training"])
    total = spec.total_steps(len(data.x_train))
    if isinstance(snapshot_steps, Mapping):
        snaps = {s: sorted({int(t) for t in snapshot_steps.get(s, ())}) for s in seeds}
    else:
        steps = sorted({int(t) for t in snapshot_steps})
        snaps = {s: steps for s in seeds}
    bad = sorted({t for steps in snaps.values() for t in steps if not 0 <= t <= total})
    if bad:
        raise ValueError(f"snapshot_steps {bad} lie outside 0..{total} (the run's steps)")
    every = spec.checkpoint_every if checkpoint_every is None else checkpoint_every
    if every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {every}")
    dev = resolve_device(device)
    log = log or (lambda _msg: None)
    label = where.removeprefix("experiments.")

    results = {}
    with _torch_settings(threads, deterministic=dev.type == "cpu"):
        for seed in seeds:
            seed_state = Path(state_dir) / f"seed{seed}" if state_dir is not None else None
            results[seed] = _train(
                exp, data, run, seed, spec, total, seed_state, snaps[seed], dev, every, log,
                progress_every_s, on_step, where, f"{label} {run.name} seed {seed}",
            )  # fmt: skip
    _write_outputs(Path(out_dir), exp, data, run, results)
    return results


def train_run(experiment: Mapping, data: Prepared, *, seed: int, **kwargs) -> RunResult:
    """One seed of :func:`train_runs` (the same arguments, ``seed`` instead of ``seeds``)."""
    return train_runs(experiment, data, seeds=[seed], **kwargs)[int(seed)]


def _write_outputs(
    out_dir: Path, exp: Mapping, data: Prepared, run: RunSpec, results: Mapping[int, RunResult]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = pd.concat(
        [r.metrics.assign(seed=seed) for seed, r in results.items()], ignore_index=True
    )
    _write_parquet(metrics[["seed", *METRIC_COLUMNS]], out_dir / METRICS_FILE)
    output_dim = data.meta["n_classes"] if data.task == "classification" else data.y_train.shape[1]
    meta = {
        "model": asdict(ModelSpec.from_config(exp["model"])),
        "input_shape": list(data.x_train.shape[1:]),
        "output_dim": int(output_dim),
        "run": run.name,
        "rule": run.rule,
        "m": run.m,
    }
    save_models(out_dir / MODELS_FILE, meta, results)
    if run.rule in REPLACEMENT_RULES:
        checks = pd.concat(
            [r.checks.assign(seed=seed) for seed, r in results.items()], ignore_index=True
        )
        _write_parquet(checks[["seed", *CHECK_COLUMNS]], out_dir / CHECKS_FILE)


def _load_state(path: Path, fingerprint: str, log: Callable[[str], None], label: str):
    """The saved state at ``path`` if it belongs to these settings, else None. A file that does
    not load is set aside (renamed ``*.corrupt``), never loaded unsafely; the seed restarts."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a gnitails training state")
    except Exception as exc:  # any unreadable file: torch raises many kinds
        aside = path.with_name(path.name + ".corrupt")
        path.replace(aside)
        why = type(exc).__name__
        log(f"{label}: {path} is unreadable ({why}); set aside as {aside}, restarting")
        return None
    if state.get("fingerprint") != fingerprint:
        log(f"{label}: {path} belongs to other settings or code; starting afresh")
        path.unlink()
        return None
    return state


class _SeedRun:
    """One seed of a run: its net, generators, batch order, variant, running sums, metric rows
    and snapshots. :meth:`state` and :meth:`load` checkpoint and resume all of it together;
    :meth:`sgd_step` is one step of every rule (the variant says what it minimises and what it
    does to the gradient)."""

    def __init__(self, exp, data: Prepared, run: RunSpec, seed: int, spec: TrainingSpec,
                 total: int, snapshot_steps: Iterable[int], dev: torch.device,
                 log: Callable[[str], None], label: str):  # fmt: skip
        self.spec, self.total = spec, total
        n_train = len(data.x_train)
        task = data.task
        output_dim = data.meta["n_classes"] if task == "classification" else data.y_train.shape[1]
        self.gens = _Generators.from_seed(seed, dev)
        model_spec = ModelSpec.from_config(exp["model"])
        self.net = build_model(
            model_spec, tuple(data.x_train.shape[1:]), output_dim, generator=self.gens.init
        ).to(dev)
        noise = NoiseSpec.from_config(exp["noise"], self.net.n_layers)
        self.params = list(self.net.parameters())
        t = _as_tensors(data, dev)
        self.x_train, self.y_train = t["x_train"], t["y_train"]
        self.evaluate = _Evaluator(task, t)
        self.order = _BatchOrder(n_train, spec.batch(n_train), self.gens.order, dev)
        r_options = {
            "estimator": spec.r_estimator,
            "probes": spec.r_probes,
            "generator": self.gens.probes,
        }
        sampler = NoiseSampler(
            noise, self.net.activation_shapes, self.gens.noise, reuse_buffer=True
        )
        self.variant = variant_for(
            run, self.net, per_example_loss(task), noise, task, spec, sampler=sampler,
            r_options=r_options, replace_generator=self.gens.replace, log=log, label=label,
        )  # fmt: skip
        self.steps_per_epoch = spec.steps_per_epoch(n_train)
        self.record_every_epoch = (
            spec.eval_every_epochs * self.steps_per_epoch if spec.eval_every_epochs else None
        )
        self.snapshot_steps = set(snapshot_steps)
        self.sums = _RunningSums(dev)
        self.rows: list[dict] = []
        self.snapshots: dict[int, dict[str, Tensor]] = {}
        self.step, self.elapsed_before = 0, 0.0
        self.t0 = time.perf_counter()
        self.net.train()

    def state(self) -> dict:
        return {
            "step": self.step,
            "net": self.net.state_dict(),
            "generators": self.gens.state(),
            "order": self.order.state(),
            "rows": self.rows,
            "snapshots": self.snapshots,
            "sums": self.sums.state(),
            "variant": self.variant.state(),
            "elapsed": self.elapsed(),
        }

    def load(self, state: Mapping) -> None:
        self.net.load_state_dict(state["net"])
        self.gens.load(state["generators"])
        self.order.load(state["order"])
        self.rows, self.snapshots = state["rows"], state["snapshots"]
        self.sums.load(state["sums"])
        self.variant.load(state["variant"])
        self.step, self.elapsed_before = state["step"], state["elapsed"]
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds of training, summed over resumed sessions."""
        return self.elapsed_before + time.perf_counter() - self.t0

    def sgd_step(self) -> None:
        idx = self.order.next()
        xb, yb = (
            (self.x_train, self.y_train) if idx is None else (self.x_train[idx], self.y_train[idx])
        )
        obj, r = self.variant.objective(xb, yb)
        for p in self.params:
            p.grad = None
        obj.backward()
        self.variant.after_backward(self.step, xb, yb)
        _sgd_step(self.params, self.spec.lr)
        self.sums.add(obj, r)
        self.step += 1

    def is_record_step(self, s: int) -> bool:
        return bool(
            (self.spec.eval_every and s % self.spec.eval_every == 0)
            or s == self.total
            or (self.record_every_epoch and s % self.record_every_epoch == 0)
        )

    def record(self) -> dict:
        """Append (and return) the metrics row of the current weights."""
        s = self.step
        row = {"step": s, "epoch": s / self.steps_per_epoch, **self.evaluate(self.net)}
        row.update(self.sums.take())
        if not self.variant.records_regulariser:
            row["regulariser"] = float("nan")
        row["wall_time"] = self.elapsed()
        self.rows.append(row)
        return row

    def keep(self, force_record: bool = False) -> dict | None:
        """The snapshot and metrics row the current step asks for (a row in any case with
        ``force_record``); the row, if one was taken."""
        if self.step in self.snapshot_steps:
            self.snapshots[self.step] = _cpu_state(self.net)
        due = force_record or self.is_record_step(self.step)
        return self.record() if due else None

    def end_diverged(self) -> None:
        """A diverged arm's outcome: NaN rows at the remaining record steps, the diverged weights
        at the remaining snapshot steps; the run counts as finished."""
        nan = float("nan")
        for later in range(self.step + 1, self.total + 1):
            if later in self.snapshot_steps:
                self.snapshots[later] = _cpu_state(self.net)
            if self.is_record_step(later):
                empty = {c: nan for c in METRIC_COLUMNS}
                self.rows.append({**empty, "step": later, "epoch": later / self.steps_per_epoch})
        self.step = self.total

    def result(self, resumed_from: int) -> RunResult:
        checks = self.variant.checks
        return RunResult(
            pd.DataFrame(self.rows, columns=list(METRIC_COLUMNS)),
            self.net,
            self.step,
            resumed_from,
            dict(sorted(self.snapshots.items())),
            None if checks is None else pd.DataFrame(checks, columns=list(CHECK_COLUMNS)),
        )


def _fingerprint(exp: dict, data: Prepared, run: RunSpec, seed: int, total: int,
                 snapshot_steps: list[int], dev: torch.device) -> str:  # fmt: skip
    """Everything that shapes a seed's result (not the experiment's other seeds): a saved state
    is resumed only if it matches."""
    settings = {
        "experiment": {k: v for k, v in exp.items() if k != "seeds"},
        "code": _source_fingerprint(),
        "run": asdict(run),
        "seed": seed,
        "total": total,
        "snapshots": snapshot_steps,
        "data": _data_fingerprint(data),
        "device": dev.type,
        "format": STATE_FORMAT,
    }
    return json.dumps(settings, sort_keys=True, default=str)


def _train(
    exp: dict,
    data: Prepared,
    run: RunSpec,
    seed: int,
    spec: TrainingSpec,
    total: int,
    state_dir: Path | None,
    snapshot_steps: list[int],
    dev: torch.device,
    checkpoint_every: int,
    log: Callable[[str], None],
    progress_every_s: float,
    on_step: Callable[[int], None] | None,
    where: str,
    label: str,
) -> RunResult:
    seed_run = _SeedRun(exp, data, run, seed, spec, total, snapshot_steps, dev, log, label)
    fingerprint = _fingerprint(exp, data, run, seed, total, snapshot_steps, dev)
    state_path = state_dir / STATE_FILE if state_dir is not None else None

    def checkpoint() -> None:
        state = {"format": STATE_FORMAT, "fingerprint": fingerprint, **seed_run.state()}
        _atomic_torch_save(state, state_path)

    state = _load_state(state_path, fingerprint, log, label) if state_path is not None else None
    if state is not None:
        seed_run.load(state)
        step = seed_run.step
        done = "restoring the finished seed" if step == total else f"resuming from step {step}"
        log(f"{label}: {done} ({state_path})")
    resumed_from = seed_run.step
    progress = Progress(label, total, resumed_from, progress_every_s, log)
    if resumed_from == 0:
        seed_run.keep(force_record=True)  # every run's metrics start at the initial weights
    while seed_run.step < total:
        seed_run.sgd_step()
        step = seed_run.step
        row = seed_run.keep()
        if row is None:
            progress.update(step)
        else:
            progress.update(
                step, f"train_loss={row['train_loss']:.4g} test_loss={row['test_loss']:.4g}"
            )
            if not math.isfinite(row["train_loss"]):
                if not seed_run.variant.divergence_is_outcome:
                    raise TrainingDivergedError(
                        f"{where}: run {run.name} seed {seed}: the clean training loss became "
                        f"non-finite at step {step}; lower {where}.training.lr (now {spec.lr})"
                    )
                log(f"{label}: diverged at step {step} (an outcome of this arm)")
                seed_run.end_diverged()
                break
        if state_path is not None and step % checkpoint_every == 0 and step < total:
            checkpoint()
        if on_step is not None:
            on_step(step)

    if state_path is not None and resumed_from < total:
        checkpoint()  # the finished seed: a later run with more seeds restores it
    if resumed_from < total:
        log(f"{label}: done, {seed_run.step} steps in {format_duration(seed_run.elapsed())}")
    return seed_run.result(resumed_from)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)

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

Randomness comes from generators derived from the seed (init, data order, noise, R probes,
replacement noise), so a seed gives every rule the same initial weights and minibatch order. Every
``checkpoint_every`` steps the whole state (weights, optimiser, generator states, data order,
metric rows, step) goes atomically to ``state_dir``; a run started again with the same
arguments continues from there and, on CPU, ends bit-identical to an uninterrupted run.
Outputs (``metrics.parquet``, ``model.pt``, snapshots) are written only at the end, so a
workflow manager deleting half-finished outputs loses nothing.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import shutil
import tempfile
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
from gnitails.config import ConfigError, load_schema, schema_errors
from gnitails.data.prepared import Prepared
from gnitails.errors import TrainingDivergedError
from gnitails.gni import NoiseSampler, NoiseSpec, noisy_loss
from gnitails.losses import accuracy, per_example_loss
from gnitails.models import ModelSpec, Net, build_model
from gnitails.progress import Progress, format_duration, stderr_log
from gnitails.regulariser import regulariser
from gnitails.replacement import CHECK_COLUMNS, Replacement
from gnitails.runs import REPLACEMENT_RULES, RunSpec, replacement_control

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
MODEL_FORMAT = "gnitails-model-1"
STATE_FORMAT = "gnitails-train-state-1"
STATE_FILE = "state.pt"
CHECKS_FILE = "replacement_checks.parquet"  # replacement runs: the noise check per refit
EVAL_CHUNK = 4096


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainingSpec:
    lr: float
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    eval_every: int | None = 100
    eval_every_epochs: int | None = None
    checkpoint_every: int = 1000
    r_estimator: str = "exact"
    r_probes: int = 1
    replace_refit_every: int = 100
    replace_mean: str = "lm"
    replace_m: int = 16
    replace_draws: int = 16

    @classmethod
    def from_config(cls, cfg: Mapping) -> TrainingSpec:
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})

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
    if not isinstance(experiment, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(experiment).__name__}")
    exp = copy.deepcopy(dict(experiment))
    training = exp.get("training")
    if isinstance(training, Mapping) and ("steps" in training) == ("epochs" in training):
        raise ConfigError(f"{where}.training: give exactly one of `steps` and `epochs`")
    schema = load_schema()
    sub = {"$defs": schema["$defs"], "$ref": "#/$defs/experiment"}
    problems = schema_errors(exp, sub)
    if problems:
        listed = "\n".join(f"  - {where}.{p}" for p in problems)
        raise ConfigError(f"invalid experiment ({where}):\n{listed}")
    return exp


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
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _data_fingerprint(data: Prepared) -> str:
    h = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        arr = np.ascontiguousarray(getattr(data, key))
        h.update(f"{key}{arr.dtype}{arr.shape}".encode())
        h.update(arr.data)
    return h.hexdigest()


@contextlib.contextmanager
def _torch_settings(threads: int | None, deterministic: bool):
    """Set threads and deterministic algorithms for the run; restore them afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


def snapshot_name(step: int) -> str:
    return f"step{step}.pt"


def save_model(path: str | Path, net: Net, meta: Mapping) -> None:
    """Weights plus what :func:`load_model` needs to rebuild the net (atomic write)."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    _atomic_torch_save({"format": MODEL_FORMAT, "state_dict": state, **meta}, Path(path))


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Net, dict]:
    """Rebuild a net saved by the training loop (``model.pt`` or a snapshot) and its metadata."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a gnitails model file (format {blob.get('format')!r})")
    net = build_model(blob["model"], blob["input_shape"], blob["output_dim"])
    net.load_state_dict(blob["state_dict"])
    meta = {k: v for k, v in blob.items() if k != "state_dict"}
    return net.to(resolve_device(device)), meta


# --------------------------------------------------------------------------- the loop


@dataclass
class RunResult:
    metrics: pd.DataFrame
    net: Net
    steps: int
    resumed_from: int  # the step this session started at (0 = fresh)


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


def train_run(
    experiment: Mapping,
    data: Prepared,
    *,
    run: str | RunSpec,
    seed: int,
    out_dir: str | Path,
    state_dir: str | Path | None = None,
    snapshot_steps: Iterable[int] = (),
    snapshot_dir: str | Path | None = None,
    device: str | torch.device = "auto",
    threads: int | None = 1,
    checkpoint_every: int | None = None,
    keep_state: bool = False,
    log: Callable[[str], None] | None = stderr_log,
    progress_every_s: float = 10.0,
    on_step: Callable[[int], None] | None = None,
    where: str = "experiment",
) -> RunResult:
    """Train one run of ``experiment`` on ``data`` and write its outputs to ``out_dir``.

    ``run`` is a run name (``baseline``, ``gni``, ``explicit``, ``m16``) or a RunSpec; it must
    be one of :func:`planned_runs`. Writes ``out_dir/metrics.parquet``, ``out_dir/model.pt``
    and ``snapshot_dir/step{s}.pt`` (default ``out_dir/snapshots``) for each requested step s
    (0 = the initial weights). With ``state_dir`` the run checkpoints every
    ``checkpoint_every`` steps (default: the config's) and resumes from there; the state is
    removed at the end unless ``keep_state``. ``on_step(step)`` runs after every step (tests
    use it to simulate a crash). ``threads`` sets torch's intra-op threads (None: leave).
    """
    exp = validate_experiment(experiment, where)
    run = run if isinstance(run, RunSpec) else RunSpec.parse(run)
    _check_run_against_config(exp, run, where)
    data.check(where=f"{where}.dataset")
    _check_data_against_config(exp, data, where)
    spec = TrainingSpec.from_config(exp["training"])
    n_train = len(data.x_train)
    total = spec.total_steps(n_train)
    snapshot_steps = sorted(set(int(s) for s in snapshot_steps))
    bad = [s for s in snapshot_steps if not 0 <= s <= total]
    if bad:
        raise ValueError(f"snapshot_steps {bad} lie outside 0..{total} (the run's steps)")
    every = spec.checkpoint_every if checkpoint_every is None else checkpoint_every
    if every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {every}")
    dev = resolve_device(device)
    log = log or (lambda _msg: None)

    out_dir = Path(out_dir)
    with _torch_settings(threads, deterministic=dev.type == "cpu"):
        return _train(
            exp,
            data,
            run,
            seed,
            spec,
            total,
            out_dir,
            Path(state_dir) if state_dir is not None else None,
            snapshot_steps,
            Path(snapshot_dir) if snapshot_dir is not None else out_dir / "snapshots",
            dev,
            every,
            keep_state,
            log,
            progress_every_s,
            on_step,
            where,
        )


def _train(
    exp: dict,
    data: Prepared,
    run: RunSpec,
    seed: int,
    spec: TrainingSpec,
    total: int,
    out_dir: Path,
    state_dir: Path | None,
    snapshot_steps: list[int],
    snapshot_dir: Path,
    dev: torch.device,
    checkpoint_every: int,
    keep_state: bool,
    log: Callable[[str], None],
    progress_every_s: float,
    on_step: Callable[[int], None] | None,
    where: str,
) -> RunResult:
    task = data.task
    n_train = len(data.x_train)
    output_dim = data.meta["n_classes"] if task == "classification" else data.y_train.shape[1]
    input_shape = tuple(data.x_train.shape[1:])
    gens = _Generators.from_seed(seed, dev)
    model_spec = ModelSpec.from_config(exp["model"])
    net = build_model(model_spec, input_shape, output_dim, generator=gens.init).to(dev)
    noise = NoiseSpec.from_config(exp["noise"], net.n_layers)
    opt = torch.optim.SGD(net.parameters(), lr=spec.lr)
    t = _as_tensors(data, dev)
    evaluate = _Evaluator(task, t)
    loss_fn = per_example_loss(task)
    order = _BatchOrder(n_train, spec.batch(n_train), gens.order, dev)
    sampler = NoiseSampler(noise, net.activation_shapes, gens.noise, reuse_buffer=True)
    replacement = None
    if run.rule in REPLACEMENT_RULES:
        replacement = Replacement(
            run.rule,
            net,
            noise,
            task,
            loss_fn,
            mean=spec.replace_mean,
            m=spec.replace_m,
            refit_every=spec.replace_refit_every,
            draws=spec.replace_draws,
            mean_sampler=sampler,
            generator=gens.replace,
            r_options={
                "estimator": spec.r_estimator,
                "probes": spec.r_probes,
                "generator": gens.probes,
            },
            log=log,
            label=f"{where} {run.name} seed {seed}",
        )
    steps_per_epoch = spec.steps_per_epoch(n_train)
    record_every_epoch = (
        spec.eval_every_epochs * steps_per_epoch if spec.eval_every_epochs else None
    )
    model_meta = {
        "model": asdict(model_spec),
        "input_shape": list(input_shape),
        "output_dim": int(output_dim),
        "run": run.name,
        "rule": run.rule,
        "m": run.m,
        "seed": int(seed),
    }
    # A saved state is resumed only if everything that shapes the result is unchanged.
    settings = {
        "experiment": exp,
        "run": asdict(run),
        "seed": seed,
        "total": total,
        "snapshots": snapshot_steps,
        "data": _data_fingerprint(data),
        "device": dev.type,
        "format": STATE_FORMAT,
    }
    fingerprint = json.dumps(settings, sort_keys=True, default=str)

    rows: list[dict] = []
    sums = _RunningSums(dev)
    step, elapsed_before = 0, 0.0
    snap_tmp = state_dir / "snapshots" if state_dir is not None else None
    state_path = state_dir / STATE_FILE if state_dir is not None else None
    if state_path is not None and state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") == fingerprint:
            net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
            gens.load(state["generators"])
            order.load(state["order"])
            rows = state["rows"]
            sums.load(state["sums"])
            if replacement is not None:
                replacement.load(state["replacement"])
            step, elapsed_before = state["step"], state["elapsed"]
            log(f"{run.name} seed {seed}: resuming from step {step} ({state_path})")
        else:
            log(f"{run.name} seed {seed}: {state_path} belongs to other settings; starting afresh")
            shutil.rmtree(state_dir / "snapshots", ignore_errors=True)
            state_path.unlink()
    resumed_from = step
    # Snapshots taken before a crash live in state_dir until the run ends.
    snap_stage = snap_tmp if snap_tmp is not None else Path(tempfile.mkdtemp(prefix="gnitails-"))
    snapshot_set = set(snapshot_steps)
    t0 = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t0

    def record(s: int) -> None:
        row = {"step": s, "epoch": s / steps_per_epoch, **evaluate(net), **sums.take()}
        if run.rule != "explicit" and not (replacement and spec.replace_mean == "explicit"):
            row["regulariser"] = float("nan")
        rows.append({**row, "wall_time": elapsed()})

    def snapshot(s: int) -> None:
        save_model(snap_stage / snapshot_name(s), net, {**model_meta, "step": s})

    def checkpoint(s: int) -> None:
        state = {
            "format": STATE_FORMAT,
            "fingerprint": fingerprint,
            "step": s,
            "net": net.state_dict(),
            "opt": opt.state_dict(),
            "generators": gens.state(),
            "order": order.state(),
            "rows": rows,
            "sums": sums.state(),
            "elapsed": elapsed(),
        }
        if replacement is not None:
            state["replacement"] = replacement.state()
        _atomic_torch_save(state, state_path)

    def objective(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor | None]:
        if replacement is not None:
            return replacement.objective(xb, yb)
        if run.rule == "baseline" or (run.rule != "explicit" and not noise.layers):
            return loss_fn(net(xb), yb).mean(), None
        if run.rule == "explicit":
            r, out = regulariser(
                net,
                xb,
                task,
                noise,
                estimator=spec.r_estimator,
                probes=spec.r_probes,
                generator=gens.probes,
            )
            return loss_fn(out, yb).mean() + r, r
        return noisy_loss(net, xb, yb, loss_fn, noise, run.m, sampler), None

    def is_record_step(s: int) -> bool:
        return bool(
            (spec.eval_every and s % spec.eval_every == 0)
            or s == total
            or (record_every_epoch and s % record_every_epoch == 0)
        )

    def diverged(s: int) -> None:
        """A non-finite loss: an outcome for a replacement arm (its remaining records are NaN,
        its remaining snapshots the diverged weights), a failure for every other run."""
        if replacement is None:
            raise TrainingDivergedError(
                f"{where}: run {run.name} seed {seed}: the clean training loss became non-finite "
                f"at step {s}; lower {where}.training.lr (now {spec.lr})"
            )
        log(f"{where} {run.name} seed {seed}: diverged at step {s} (an outcome of this arm)")
        nan = float("nan")
        for later in range(s + 1, total + 1):
            if later in snapshot_set:
                snapshot(later)
            if is_record_step(later):
                empty = {c: nan for c in METRIC_COLUMNS}
                rows.append({**empty, "step": later, "epoch": later / steps_per_epoch})

    progress = Progress(f"{run.name} seed {seed}", total, step, progress_every_s, log)
    if step == 0:
        if 0 in snapshot_set:
            snapshot(0)
        record(0)
    x_train, y_train = t["x_train"], t["y_train"]
    net.train()
    while step < total:
        idx = order.next()
        xb, yb = (x_train, y_train) if idx is None else (x_train[idx], y_train[idx])
        obj, r = objective(xb, yb)
        opt.zero_grad(set_to_none=True)
        obj.backward()
        if replacement is not None:
            replacement.perturb(step, xb, yb)
        opt.step()
        sums.add(obj, r)
        step += 1
        if step in snapshot_set:
            snapshot(step)
        if is_record_step(step):
            record(step)
            last = rows[-1]
            progress.update(
                step, f"train_loss={last['train_loss']:.4g} test_loss={last['test_loss']:.4g}"
            )
            if not math.isfinite(last["train_loss"]):
                diverged(step)
                step = total
                break
        else:
            progress.update(step)
        if state_path is not None and step % checkpoint_every == 0 and step < total:
            checkpoint(step)
        if on_step is not None:
            on_step(step)

    metrics = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_parquet(metrics, out_dir / "metrics.parquet")
    save_model(out_dir / "model.pt", net, {**model_meta, "step": step})
    if replacement is not None:
        checks = pd.DataFrame(replacement.checks, columns=list(CHECK_COLUMNS))
        _write_parquet(checks, out_dir / CHECKS_FILE)
    if snapshot_steps:
        snapshot_dir.mkdir(parents=True, exist_ok=True)
        for s in snapshot_steps:
            shutil.copyfile(snap_stage / snapshot_name(s), snapshot_dir / snapshot_name(s))
    if snap_tmp is None:
        shutil.rmtree(snap_stage, ignore_errors=True)
    if state_dir is not None and not keep_state:
        state_path.unlink(missing_ok=True)
        shutil.rmtree(snap_tmp, ignore_errors=True)
        with contextlib.suppress(OSError):  # leave the folder if something else lives there
            state_dir.rmdir()
    log(f"{run.name} seed {seed}: done, {step} steps in {format_duration(elapsed())}")
    return RunResult(metrics=metrics, net=net, steps=step, resumed_from=resumed_from)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)

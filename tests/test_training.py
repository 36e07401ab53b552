"""The training loop: run names, outputs, seeding, bit-identical resume, config errors."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gnitails.config import ConfigError
from gnitails.data.digits import make_digits
from gnitails.data.sinusoids import make_sinusoids
from gnitails.errors import InputFileError
from gnitails.runs import RunSpec, planned_runs
from gnitails.training import (
    METRIC_COLUMNS,
    load_model,
    train_run,
    train_runs,
    validate_experiment,
)

SIN_EXP = {
    "dataset": "sinusoids",
    "model": {"arch": "mlp", "width": 16, "depth": 2},
    "noise": {"mode": "multiplicative", "sigma": 0.3},
    "training": {
        "rules": ["baseline", "gni", "gni_m", "explicit"],
        "m_values": [1, 3],
        "lr": 0.01,
        "steps": 30,
        "batch_size": 64,
        "eval_every": 10,
        "r_estimator": "hutchinson",
    },
    "seeds": [0],
}
CONV_EXP = {
    "dataset": "digits",
    "model": {"arch": "convnet", "activation": "elu", "init": "glorot_normal"},
    "noise": {"mode": "additive", "sigma": 0.3},
    "training": {
        "rules": ["baseline", "gni", "explicit"],
        "lr": 0.05,
        "epochs": 2,
        "batch_size": 256,
        "eval_every": 1000,
        "eval_every_epochs": 1,
    },
    "seeds": [0],
}
QUIET = {"log": None}


@pytest.fixture(scope="module")
def sinusoids():
    return make_sinusoids(seed=0, n_train=150, n_test=50)


@pytest.fixture(scope="module")
def digits():
    return make_digits(seed=0)


def exp_with(base: dict, **training) -> dict:
    exp = copy.deepcopy(base)
    exp["training"].update(training)
    return exp


def comparable(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics.drop(columns=["wall_time"])


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_run_names_and_plan():
    assert [r.name for r in planned_runs(SIN_EXP)] == ["baseline", "gni", "m1", "m3", "explicit"]
    assert RunSpec.parse("m16") == RunSpec("m16", "gni_m", 16)
    assert RunSpec.parse("explicit") == RunSpec("explicit", "explicit", 1)
    for bad in ("m0", "m", "gni_m", "M4", "m04"):
        with pytest.raises(ValueError, match=bad):
            RunSpec.parse(bad)


def test_outputs_metrics_model_and_snapshots(tmp_path, sinusoids):
    out = tmp_path / "m3"
    res = train_run(
        SIN_EXP, sinusoids, run="m3", seed=0, out_dir=out, snapshot_steps=[0, 7, 30], **QUIET
    )
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert tuple(metrics.columns) == ("seed", *METRIC_COLUMNS) and (metrics["seed"] == 0).all()
    metrics = metrics.drop(columns="seed")
    assert metrics["step"].tolist() == [0, 10, 20, 30]
    assert np.allclose(metrics["epoch"], metrics["step"] / 3)  # ceil(150 / 64) = 3 steps an epoch
    assert metrics["test_accuracy"].isna().all() and metrics["regulariser"].isna().all()
    assert np.isnan(metrics["objective"][0]) and metrics["objective"][1:].notna().all()
    assert (metrics["wall_time"].diff()[1:] >= 0).all()
    pd.testing.assert_frame_equal(metrics, res.metrics)
    net, meta = load_model(out / "models.pt")
    assert meta["run"] == "m3" and meta["m"] == 3 and (meta["seed"], meta["step"]) == (0, 30)
    assert_same_weights(net.state_dict(), res.net.state_dict())
    assert sorted(res.snapshots) == [0, 7, 30]
    final, meta = load_model(out / "models.pt", seed=0, step=30)
    assert_same_weights(final.state_dict(), res.net.state_dict())
    with pytest.raises(InputFileError, match="no snapshot of step 8"):
        load_model(out / "models.pt", seed=0, step=8)
    with pytest.raises(InputFileError, match="no seed 1"):
        load_model(out / "models.pt", seed=1)
    # the same seed starts every rule from the same weights
    init, _ = load_model(out / "models.pt", step=0)
    base = train_run(
        SIN_EXP,
        sinusoids,
        run="baseline",
        seed=0,
        out_dir=tmp_path / "b",
        snapshot_steps=[0],
        **QUIET,
    )
    assert_same_weights(
        init.state_dict(), load_model(tmp_path / "b/models.pt", step=0)[0].state_dict()
    )
    assert not torch.equal(base.net.layers[0].weight, res.net.layers[0].weight)


def test_seeds_of_a_run_train_as_they_would_alone(tmp_path, sinusoids):
    """Several seeds in one process give each seed exactly its lone result; snapshots may be
    per seed; identical runs write byte-identical files."""
    exp = {**SIN_EXP, "seeds": [2, 0]}
    both = train_runs(exp, sinusoids, run="m3", out_dir=tmp_path / "both",
                      snapshot_steps={0: [10], 2: []}, **QUIET)  # fmt: skip
    alone = train_run(SIN_EXP, sinusoids, run="m3", seed=0, out_dir=tmp_path / "a", **QUIET)
    pd.testing.assert_frame_equal(comparable(both[0].metrics), comparable(alone.metrics))
    assert_same_weights(both[0].net.state_dict(), alone.net.state_dict())
    assert sorted(both[0].snapshots) == [10] and both[2].snapshots == {}
    metrics = pd.read_parquet(tmp_path / "both" / "metrics.parquet")
    assert metrics["seed"].tolist() == [2] * 4 + [0] * 4  # in the order trained
    assert_same_weights(
        load_model(tmp_path / "both/models.pt", seed=2)[0].state_dict(), both[2].net.state_dict()
    )
    again = tmp_path / "again"
    train_runs(exp, sinusoids, run="m3", out_dir=again, snapshot_steps={0: [10]}, **QUIET)
    blob = (tmp_path / "both" / "models.pt").read_bytes()
    assert (again / "models.pt").read_bytes() == blob


def test_adding_a_seed_trains_only_the_new_seed(tmp_path, sinusoids):
    state, out = tmp_path / "state", tmp_path / "out"
    first = train_runs(SIN_EXP, sinusoids, run="gni", out_dir=out, state_dir=state, **QUIET)
    (out / "models.pt").unlink()  # what Snakemake does before it reruns the job
    more = {**SIN_EXP, "seeds": [0, 5]}
    trained = []
    second = train_runs(more, sinusoids, run="gni", out_dir=out, state_dir=state,
                        on_step=trained.append, **QUIET)  # fmt: skip
    assert second[0].resumed_from == 30 and second[5].resumed_from == 0
    assert len(trained) == 30  # only seed 5's steps ran
    pd.testing.assert_frame_equal(second[0].metrics, first[0].metrics)
    assert_same_weights(second[0].net.state_dict(), first[0].net.state_dict())


def test_a_corrupt_state_is_set_aside_and_the_seed_restarts(tmp_path, sinusoids):
    state = tmp_path / "state"
    (state / "seed0").mkdir(parents=True)
    (state / "seed0" / "state.pt").write_bytes(b"garbage, not a torch file")
    lines = []
    res = train_run(SIN_EXP, sinusoids, run="gni", seed=0, out_dir=tmp_path / "a",
                    state_dir=state, log=lines.append)  # fmt: skip
    assert res.resumed_from == 0
    assert (state / "seed0" / "state.pt.corrupt").read_bytes() == b"garbage, not a torch file"
    said = [line for line in lines if "state.pt" in line and "unreadable" in line]
    assert said and "set aside" in said[0]
    ref = train_run(SIN_EXP, sinusoids, run="gni", seed=0, out_dir=tmp_path / "b", **QUIET)
    assert_same_weights(res.net.state_dict(), ref.net.state_dict())


@pytest.mark.parametrize(
    "damage", [lambda p: p.write_bytes(p.read_bytes()[:200]), lambda p: p.write_text("x")]
)
def test_a_damaged_models_file_is_named(tmp_path, sinusoids, damage):
    train_run(SIN_EXP, sinusoids, run="gni", seed=0, out_dir=tmp_path, **QUIET)
    damage(tmp_path / "models.pt")
    with pytest.raises(InputFileError, match=r"models\.pt.*--forcerun"):
        load_model(tmp_path / "models.pt")


def test_seeded_runs_repeat_and_seeds_differ(tmp_path, sinusoids):
    a = train_run(SIN_EXP, sinusoids, run="gni", seed=3, out_dir=tmp_path / "a", **QUIET)
    b = train_run(SIN_EXP, sinusoids, run="gni", seed=3, out_dir=tmp_path / "b", **QUIET)
    c = train_run(SIN_EXP, sinusoids, run="gni", seed=4, out_dir=tmp_path / "c", **QUIET)
    pd.testing.assert_frame_equal(comparable(a.metrics), comparable(b.metrics))
    assert_same_weights(a.net.state_dict(), b.net.state_dict())
    assert not torch.equal(a.net.layers[0].weight, c.net.layers[0].weight)


class Crash(RuntimeError):
    pass


def crash_at(step: int):
    def on_step(s: int) -> None:
        if s == step:
            raise Crash(f"simulated kill at step {s}")

    return on_step


@pytest.mark.parametrize("run", ["m3", "explicit"])
def test_resume_after_crash_is_bit_identical(tmp_path, sinusoids, run):
    """Minibatch order, noise and Hutchinson probes all continue exactly where they were."""
    kwargs = dict(run=run, seed=1, snapshot_steps=[5, 12, 25], checkpoint_every=4, **QUIET)
    ref = train_run(SIN_EXP, sinusoids, out_dir=tmp_path / "ref", **kwargs)
    state = tmp_path / "state"
    with pytest.raises(Crash):
        train_run(
            SIN_EXP,
            sinusoids,
            out_dir=tmp_path / "a",
            state_dir=state,
            on_step=crash_at(14),
            **kwargs,
        )
    assert (state / "seed1" / "state.pt").exists()
    assert not (tmp_path / "a" / "metrics.parquet").exists()
    # a second crash after resuming, then a clean finish
    with pytest.raises(Crash):
        train_run(
            SIN_EXP,
            sinusoids,
            out_dir=tmp_path / "a",
            state_dir=state,
            on_step=crash_at(23),
            **kwargs,
        )
    res = train_run(SIN_EXP, sinusoids, out_dir=tmp_path / "a", state_dir=state, **kwargs)
    assert res.resumed_from == 20
    pd.testing.assert_frame_equal(comparable(res.metrics), comparable(ref.metrics))
    assert_same_weights(res.net.state_dict(), ref.net.state_dict())
    assert sorted(res.snapshots) == [5, 12, 25]
    for s in (5, 12, 25):
        assert_same_weights(res.snapshots[s], ref.snapshots[s])


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from gnitails.data.digits import make_digits
    from gnitails.training import train_run
    exp, out, state = eval(sys.argv[1]), sys.argv[2], sys.argv[3]

    def kill(step):
        if step == 15:
            os.kill(os.getpid(), signal.SIGKILL)

    train_run(exp, make_digits(seed=0), run="gni", seed=2, out_dir=out, state_dir=state,
              checkpoint_every=4, on_step=kill, log=None)
    """
)


def test_resume_after_sigkill_in_subprocess(tmp_path, digits):
    """A process killed outright (no cleanup) resumes to the uninterrupted result."""
    exp = exp_with(CONV_EXP, batch_size=128)  # 11 steps an epoch, 22 steps
    state, out = tmp_path / "state", tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, repr(exp), str(out), str(state)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},  # bounded work (it kills itself): no timeout
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (state / "seed2" / "state.pt").exists()
    resumed = train_run(exp, digits, run="gni", seed=2, out_dir=out, state_dir=state, **QUIET)
    assert resumed.resumed_from == 12
    ref = train_run(exp, digits, run="gni", seed=2, out_dir=tmp_path / "ref", **QUIET)
    pd.testing.assert_frame_equal(comparable(resumed.metrics), comparable(ref.metrics))
    assert_same_weights(resumed.net.state_dict(), ref.net.state_dict())


def test_state_from_other_settings_is_not_resumed(tmp_path, sinusoids):
    state = tmp_path / "state"
    with pytest.raises(Crash):
        train_run(
            SIN_EXP,
            sinusoids,
            run="gni",
            seed=0,
            out_dir=tmp_path / "a",
            state_dir=state,
            checkpoint_every=5,
            on_step=crash_at(12),
            **QUIET,
        )
    changed = exp_with(SIN_EXP, lr=0.02)
    res = train_run(
        changed, sinusoids, run="gni", seed=0, out_dir=tmp_path / "b", state_dir=state, **QUIET
    )
    assert res.resumed_from == 0
    ref = train_run(changed, sinusoids, run="gni", seed=0, out_dir=tmp_path / "c", **QUIET)
    assert_same_weights(res.net.state_dict(), ref.net.state_dict())


def test_epoch_budget_and_conv_rules(tmp_path, digits):
    results = {}
    for run in ("baseline", "gni", "explicit"):
        results[run] = train_run(CONV_EXP, digits, run=run, seed=0, out_dir=tmp_path / run, **QUIET)
    m = results["explicit"].metrics
    assert m["step"].tolist() == [0, 6, 12]  # 1347 images, batch 256: 6 steps an epoch
    assert m["epoch"].tolist() == [0.0, 1.0, 2.0]
    assert (m["regulariser"][1:] > 0).all() and (m["objective"][1:] > m["regulariser"][1:]).all()
    for res in results.values():
        acc = res.metrics["test_accuracy"]
        assert acc.between(0, 1).all()
        assert res.metrics["train_loss"].iloc[-1] < res.metrics["train_loss"].iloc[0]
    # noise changes the trajectory, so the rules differ from the first step on
    base, gni = results["baseline"].metrics, results["gni"].metrics
    assert (
        base["train_loss"][0] == gni["train_loss"][0]
        and base["train_loss"][1] != gni["train_loss"][1]
    )


def test_threads_are_set_for_the_run_and_restored(tmp_path, sinusoids):
    before = torch.get_num_threads()
    seen = []
    train_run(
        SIN_EXP,
        sinusoids,
        run="baseline",
        seed=0,
        out_dir=tmp_path,
        threads=1,
        on_step=lambda s: seen.append(torch.get_num_threads()),
        **QUIET,
    )
    assert set(seen) == {1} and torch.get_num_threads() == before


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda e: e["training"].update(lr=-0.1), "training.lr"),
        (lambda e: e["training"].update(lr="fast"), "training.lr"),
        (lambda e: e["training"].update(epochs=3), "training"),
        (lambda e: e["training"].pop("steps"), "training"),
        (lambda e: e["training"].update(batch_size=0), "training.batch_size"),
        (lambda e: e["training"].update(batch_size=151), "training.batch_size"),
        (lambda e: e["training"].update(m_values=[2]), "training.m_values"),
        (lambda e: e["training"].update(rules=["baseline"]), "training.rules"),
        (lambda e: e["training"].update(rules=["sgd"]), "training.rules"),
        (lambda e: e["training"].update(r_estimator="approx"), "training.r_estimator"),
        (lambda e: e["training"].update(stpes=10), "stpes"),
        (lambda e: e["noise"].update(sigma=[0.1, 0.2]), "noise.sigma"),
        (lambda e: e["noise"].update(sigma=-1), "noise.sigma"),
        (lambda e: e["model"].update(arch="convnet"), "model.arch"),
        (lambda e: e["model"].update(width=0), "model.width"),
    ],
)
def test_bad_config_names_the_key(tmp_path, sinusoids, change, key):
    exp = copy.deepcopy(SIN_EXP)
    change(exp)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        train_run(exp, sinusoids, run="m3", seed=0, out_dir=tmp_path, **QUIET)
    assert not Path(tmp_path / "metrics.parquet").exists()


def test_bad_snapshot_step(tmp_path, sinusoids):
    with pytest.raises(ValueError, match="snapshot_steps"):
        train_run(
            SIN_EXP, sinusoids, run="gni", seed=0, out_dir=tmp_path, snapshot_steps=[31], **QUIET
        )


def test_validate_experiment_fills_defaults_without_touching_input():
    exp = copy.deepcopy(SIN_EXP)
    del exp["training"]["eval_every"]
    valid = validate_experiment(exp)
    assert valid["training"]["eval_every"] == 100 and valid["model"]["init"] == "torch"
    assert "eval_every" not in exp["training"]


def test_noise_dump_snapshot_plan():
    """The train rule saves the snapshots noise_dump needs, only for the dumped run and seeds."""
    from gnitails.runs import noise_dump_run, noise_dump_steps, snapshot_steps

    def with_dump(block):  # a validated experiment, as the Snakefile passes it
        return validate_experiment({**SIN_EXP, "noise_dump": block})

    assert snapshot_steps(validate_experiment(SIN_EXP), "gni", 0) == []  # no noise_dump block
    exp = with_dump({"steps": [0, 10, "last"]})
    assert noise_dump_run(exp) == "gni" and noise_dump_steps(exp) == [0, 10, 30]
    assert snapshot_steps(exp, "gni", 0) == [0, 10, 30] and snapshot_steps(exp, "m1", 0) == []
    exp = with_dump({"run": "m3", "seeds": [0], "steps": [40]})
    with pytest.raises(ValueError, match="outside 0..30"):
        snapshot_steps(exp, "m3", 0)
    with pytest.raises(ValueError, match="not a run"):
        noise_dump_run(with_dump({"run": "m7"}))


def test_a_diverging_run_fails_naming_the_run_and_the_learning_rate(tmp_path, sinusoids):
    from gnitails.errors import TrainingDivergedError

    exp = exp_with(SIN_EXP, lr=1e6)
    with pytest.raises(TrainingDivergedError, match=r"run m1 seed 0: .*non-finite at step 10"):
        train_run(exp, sinusoids, run="m1", seed=0, out_dir=tmp_path, **QUIET)
    assert not (tmp_path / "metrics.parquet").exists()


def test_a_diverging_replacement_arm_records_divergence_as_an_outcome(tmp_path, sinusoids):
    exp = exp_with(
        SIN_EXP, rules=["gni_m", "replace_gauss"], lr=1e6, replace_mean="explicit", steps=40
    )
    result = train_run(exp, sinusoids, run="replace_gauss", seed=0, out_dir=tmp_path, **QUIET)
    metrics = pd.read_parquet(tmp_path / "metrics.parquet")
    assert metrics["step"].tolist() == [0, 10, 20, 30, 40]  # every record step, as a full run
    assert np.isfinite(metrics["train_loss"].iloc[0])
    assert metrics["train_loss"].iloc[1:].isna().all() and result.steps == 40

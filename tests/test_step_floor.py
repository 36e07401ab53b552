"""bench/step_floor.py times every L~_M job of a config and turns step times into job seconds."""

from __future__ import annotations

import json
import sys

from gnitails.config import load_config
from gnitails.runs import planned_runs
from gnitails.training import TrainingSpec


def test_step_floor_covers_every_lm_job_with_its_steps_and_seeds(root, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(root / "bench"))
    import machine
    import step_floor

    monkeypatch.setattr(machine, "RESULTS", tmp_path)
    config_path = root / "tests" / "config" / "test.yaml"
    monkeypatch.setattr(sys, "argv", ["step_floor", "--config", str(config_path), "--rounds", "1"])
    step_floor.main()  # no time limit: bounded work (the test config's tiny runs)
    jobs = json.loads((tmp_path / "step_floor.json").read_text())["jobs"]

    config = load_config(config_path)
    expected = {
        (name, run.name)
        for name, exp in config["experiments"].items()
        for run in planned_runs(exp)
        if run.rule == "gni_m"
    }
    assert {(j["experiment"], j["run"]) for j in jobs} == expected
    for j in jobs:
        exp = config["experiments"][j["experiment"]]
        steps = TrainingSpec.from_config(exp["training"]).steps
        assert j["job_steps"] == steps * len(exp["seeds"])  # L~_M runs are full-batch
        floor_ms = j["draw noise ms"] + j["clean step, same rows ms"]
        assert abs(j["floor_job_s"] - floor_ms * j["job_steps"] / 1e3) <= 1e-9 * j["floor_job_s"]
        assert min(j["step ms"], j["draw noise ms"], j["clean step, same rows ms"]) > 0
    table = (tmp_path / "step_floor.md").read_text()
    assert all(f"| {e}/{r} |" in table for e, r in expected)

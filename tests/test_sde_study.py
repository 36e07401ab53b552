"""The bias study, its Parquet output, the rule script and the config-schema fragment."""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gnitails.config import ConfigError, load_schema, load_yaml, validate_config
from gnitails.sde import check_study, run_study, write_study
from gnitails.sde.study import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
OU = {"kind": "quadratic", "curvature": 1.0}
SMALL = {"step": 0.02, "n_particles": 20000, "n_steps": 400, "n_boot": 100}


def covers(row, stat, closed=None, widen=0.5):
    """``closed`` (default: the row's closed form) inside the CI widened by ``widen`` x width."""
    want = row[f"{stat}_closed"] if closed is None else closed
    lo, hi = row[f"{stat}_lo"], row[f"{stat}_hi"]
    pad = widen * (hi - lo)
    return lo - pad <= want <= hi + pad


@pytest.fixture(scope="module")
def ou_grid():
    spec = {"potential": OU, "alphas": [1.5, 2.0], "betas": [0.0, 1.0], **SMALL}
    return run_study(spec, "ou")


def test_symmetric_or_gaussian_noise_has_no_bias(ou_grid):
    """beta = 0 or alpha = 2: mean, median and mode of W - w* are zero within error."""
    rows = ou_grid[(ou_grid.beta == 0) | (ou_grid.alpha == 2)]
    assert len(rows) == 3
    for _, r in rows.iterrows():
        for stat in ("mean_bias", "median_bias", "mode_bias"):
            assert r[f"{stat}_closed"] == pytest.approx(0.0, abs=1e-12)
            assert covers(r, stat), (r.alpha, r.beta, stat, r[stat], r[f"{stat}_lo"])


def test_skewed_ou_moves_mode_and_median_not_mean(ou_grid):
    r = ou_grid[(ou_grid.alpha == 1.5) & (ou_grid.beta == 1.0)].iloc[0]
    assert r.mean_bias_closed == 0.0 and covers(r, "mean_bias")
    assert r.mode_bias_closed < r.median_bias_closed < 0  # beta > 0: bulk left of w*
    assert covers(r, "median_bias", widen=0.0) and covers(r, "mode_bias")
    # an infinite second moment: the closed-form excess loss says so
    assert math.isinf(r.excess_loss_closed)


def test_gaussian_excess_loss_matches(ou_grid):
    r = ou_grid[(ou_grid.alpha == 2.0) & (ou_grid.beta == 0.0)].iloc[0]
    # Euler AR(1) with N(0, 2 sigma^2 h) noise: E theta W^2/2 = sigma^2 / (2 - h theta)
    assert r.excess_loss_closed == pytest.approx(1 / (2 - 0.02), rel=1e-2)
    assert covers(r, "excess_loss")


def test_s0_location_zero_driving_mean_bias_matches_closed_form():
    """S0_per_step (SGD with injected S0 noise): mean bias -sigma h^(1/a - 1) beta tan(pi a/2)."""
    spec = {"potential": OU, "alphas": [1.5, 1.8], "betas": [-1.0, 0.5], **SMALL}
    df = run_study({**spec, "increments": "S0_per_step"}, "sgd")
    for _, r in df.iterrows():
        a, b = r.alpha, r.beta
        want = -(0.02 ** (1 / a - 1)) * b * math.tan(math.pi * a / 2)
        assert r.mean_bias_closed == pytest.approx(want, rel=1e-3)  # transient e^-8 ~ 3e-4
        assert np.sign(r.mean_bias) == np.sign(want) == np.sign(b)
        assert covers(r, "mean_bias"), (a, b, r.mean_bias, r.mean_bias_lo, r.mean_bias_hi, want)
        assert covers(r, "median_bias")


def test_non_quadratic_study_has_no_closed_forms_and_moves_the_mean():
    """S1 noise has mean 0, so E grad f(W) = E W^3 + W = 0 at stationarity; with a heavy right
    tail (beta = 1) the cubic is balanced by the bulk moving left: E W < w*."""
    spec = {
        "potential": {"kind": "quartic", "kappa": 1.0},
        "scheme": "implicit",
        "alphas": [1.5],
        "betas": [1.0],
        **SMALL,
    }
    r = run_study(spec, "quartic").iloc[0]
    assert math.isnan(r.mean_bias_closed) and math.isnan(r.mode_bias_sde)
    assert r.mean_ci_method == "normal"
    assert r.mean_bias_hi < 0 and r.median_bias_hi < 0


def test_anisotropic_rows_per_coordinate():
    spec = {
        "potential": {"kind": "quadratic", "curvature": [1.0, 10.0]},
        "alphas": [1.5],
        "betas": [1.0],
        **SMALL,
    }
    df = run_study(spec, "aniso")
    assert list(df.coord) == [0, 1]
    s0, s1 = df.stationary_scale_closed
    assert s1 < s0  # stiffer coordinate, tighter law
    assert df.mode_bias_closed.iloc[1] == pytest.approx(
        df.mode_bias_closed.iloc[0] * s1 / s0, rel=1e-9
    )


def test_output_columns_and_parquet_roundtrip(tmp_path):
    spec = {"potential": OU, "alphas": [1.5], "betas": [0.5], **SMALL, "n_particles": 2000}
    path = tmp_path / "sub" / "s.parquet"
    df = write_study(spec, "s", path)
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, df)
    needed = {
        "study", "alpha", "beta", "scale", "step", "potential", "parametrization",
        "n_particles", "mean_bias", "mean_bias_lo", "mean_bias_hi", "mean_bias_closed",
        "median_bias", "median_bias_closed", "mode_bias", "mode_bias_closed", "excess_loss",
        "excess_loss_lo", "excess_loss_hi", "excess_loss_closed",
    }  # fmt: skip
    assert needed <= set(back.columns)
    again = run_study(spec, "s")
    pd.testing.assert_frame_equal(again, df)  # deterministic for a seed
    other = run_study({**spec, "seed": 1}, "s")
    assert other.mean_bias.iloc[0] != df.mean_bias.iloc[0]


def test_rule_script_writes_the_table(tmp_path):
    spec = {"potential": OU, "alphas": [2.0], "betas": [0.0], **SMALL, "n_particles": 1000}
    out = tmp_path / "results" / "sde" / "tiny.parquet"
    log = tmp_path / "logs" / "tiny.log"
    fake = SimpleNamespace(
        wildcards=SimpleNamespace(study="tiny"),
        params=SimpleNamespace(spec=spec),
        output=SimpleNamespace(table=str(out)),
        log=[str(log)],
        threads=1,
        rule="simulate_sde",
    )
    runpy.run_path(str(ROOT / "workflow" / "scripts" / "simulate_sde.py"), {"snakemake": fake})
    assert pd.read_parquet(out).study.iloc[0] == "tiny"
    assert "1 rows written" in log.read_text()


@pytest.mark.parametrize(
    "patch,match",
    [
        ({"alphas": [1.5, 0.9]}, "sde.bad: alpha must lie in"),
        ({"betas": [2]}, "beta must lie in"),
        ({"step": 0}, "step must be positive"),
        ({"step": 3.0}, "step \\* curvature < 2"),
        ({"n_particles": 10}, "n_particles"),
        ({"color": "red"}, "unknown key"),
        ({"increments": "S3"}, "increments"),
        ({"potential": {"kind": "quadratic", "curvature": 0}}, "curvature must be positive"),
    ],
)
def test_check_study_errors_name_the_study(patch, match):
    with pytest.raises(ValueError, match=match):
        check_study({"potential": OU, **patch}, "bad")


# --- schema and shipped configs -------------------------------------------------------------


def test_shipped_studies_validate_and_pass_the_library_checks():
    for path in ("config/config.yaml", "config/paper.yaml", "tests/config/test.yaml"):
        cfg = validate_config(load_yaml(ROOT / path), source=path)
        assert cfg["sde"], path
        for name, spec in cfg["sde"].items():
            assert set(DEFAULTS) <= set(spec)  # schema defaults filled in
            check_study(spec, name)


def test_schema_defaults_match_the_library():
    props = load_schema()["$defs"]["sde_study"]["properties"]
    assert {k: props[k]["default"] for k in DEFAULTS} == DEFAULTS


@pytest.mark.parametrize(
    "study,match",
    [
        ({"potential": OU, "alphas": [2.5]}, "alphas"),
        ({"potential": OU, "betas": [-1.5]}, "betas"),
        ({"potential": OU, "speed": 1}, "speed"),
        ({"potential": {"kind": "quadratic", "tilt": 1}}, "tilt"),
        ({"potential": {"kind": "custom"}}, "target"),
        ({"alphas": [1.5]}, "potential"),
    ],
)
def test_schema_rejects_bad_studies(study, match):
    cfg = {**load_yaml(ROOT / "config" / "config.yaml"), "sde": {"s": study}}
    with pytest.raises(ConfigError, match=match):
        validate_config(cfg)

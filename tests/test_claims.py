"""The claims table: verdicts follow the confidence intervals of the stored evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnitails.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    claim_larger_m,
    claim_r_beats_gni,
    claims_replacement,
    claims_tails,
    final_values,
)


def metrics(
    effects: dict[str, float], noise: float = 0.01, seeds: int = 5, draw: int = 0
) -> pd.DataFrame:
    """Loss curves whose final level is 1 + effects[run] + a per-seed offset (shared by runs);
    ``draw`` seeds the simulation."""
    rng = np.random.default_rng(draw)
    offsets = rng.normal(0, 1.0, seeds)  # big seed-to-seed spread, removed by pairing
    rows = []
    for run, effect in effects.items():
        m = int(run[1:]) if run.startswith("m") else 1
        rule = "gni_m" if run.startswith("m") else run
        for seed in range(seeds):
            for step in range(0, 101, 10):
                level = 1 + effect + offsets[seed] + rng.normal(0, noise)
                loss = level + 5 * np.exp(-step / 10)
                rows.append(
                    {
                        "experiment": "e",
                        "run": run,
                        "rule": rule,
                        "m": m,
                        "seed": seed,
                        "step": step,
                        "train_loss": loss,
                        "test_loss": loss,
                    }
                )
    return pd.DataFrame(rows)


def test_final_value_is_the_tail_mean():
    df = metrics({"m1": 0.0}, noise=0.0, seeds=1)
    final = final_values(df, "train_loss")["train_loss"].item()
    tail = df[df["step"] >= 80]["train_loss"].mean()
    assert final == pytest.approx(tail)


@pytest.mark.parametrize(
    ("effect", "verdict"), [(0.1, REPRODUCED), (-0.1, NOT_REPRODUCED), (0.0, INCONCLUSIVE)]
)
def test_larger_m_verdicts(effect, verdict):
    claim = claim_larger_m(metrics({"m1": effect, "m4": effect / 2, "m16": 0.0}), "e")
    assert claim.verdict == verdict and claim.n == 5
    if effect:
        assert claim.estimate == pytest.approx(effect, abs=0.02)
        assert claim.ci_low < claim.estimate < claim.ci_high


def test_r_beats_gni():
    claim = claim_r_beats_gni(metrics({"baseline": 0, "gni": 0.2, "explicit": 0.05}), "e")
    assert claim.verdict == REPRODUCED and claim.estimate == pytest.approx(0.15, abs=0.02)


def test_replacement_arms_are_compared_with_their_own_control():
    # The control (explicit: L + R) sits +0.13 above m16; Gaussian noise adds nothing to it,
    # stable noise adds 0.2 (the size of the M = 1 effect).
    effects = {"m1": 0.2, "m16": 0.0, "explicit": 0.13, "replace_s1": 0.33, "replace_gauss": 0.13}
    df = metrics(effects, seeds=10)
    stable, gauss = claims_replacement(df, "e", control="explicit")
    assert stable.verdict == REPRODUCED and stable.n == 10
    assert stable.estimate == pytest.approx(0.2 - 0.2 / 2, abs=0.02)  # minus half of m1 − m16
    assert gauss.verdict == REPRODUCED and gauss.ci_high < 0  # no degradation: x = -0.1
    assert "replace_gauss − explicit" in gauss.evidence
    # Against the wrong control the same data make Gaussian noise look harmful.
    _, confounded = claims_replacement(df, "e", control="m16")
    assert confounded.verdict == NOT_REPRODUCED


def test_gaussian_arm_that_degrades_is_not_reproduced():
    df = metrics({"m1": 0.2, "m16": 0.0, "replace_gauss": 0.2}, seeds=10)
    (gauss,) = claims_replacement(df, "e", control="m16")
    assert gauss.verdict == NOT_REPRODUCED


@pytest.mark.parametrize(
    ("degradation", "stable_verdict", "gauss_verdict"),
    [(0.05, NOT_REPRODUCED, REPRODUCED), (0.15, REPRODUCED, NOT_REPRODUCED)],
)
def test_arms_are_judged_by_the_hypothesis_they_resemble(
    degradation, stable_verdict, gauss_verdict
):
    """M = 1 degrades by 0.2. A degradation of 0.05, clearly above 0, is closer to none than
    to M = 1's: stable noise does not degrade *like M = 1*, Gaussian noise does not degrade
    like it either. 0.15 is closer to M = 1's."""
    effects = {"m1": 0.2, "m16": 0.0, "replace_s1": degradation, "replace_gauss": degradation}
    stable, gauss = claims_replacement(metrics(effects, seeds=10), "e", control="m16")
    raw = stable.estimate + 0.2 / 2
    assert raw == pytest.approx(degradation, abs=0.02)
    assert (stable.verdict, gauss.verdict) == (stable_verdict, gauss_verdict)


def test_decisive_verdicts_at_the_boundary_are_rare():
    """The null of both verdicts: an arm half-way between no degradation and M = 1's. Its
    decisive verdicts (either way) must stay at the interval's 5% (signed-rank coverage at
    10 seeds: 95.1%), checked on 300 simulated experiments."""
    from scipy.stats import binom

    effects = {"m1": 0.2, "m16": 0.0, "replace_s1": 0.1, "replace_gauss": 0.1}
    decisive = 0
    for draw in range(300):
        df = metrics(effects, noise=0.02, seeds=10, draw=draw)
        for claim in claims_replacement(df, "e", control="m16"):
            decisive += claim.verdict != INCONCLUSIVE
    assert decisive <= binom.ppf(0.999, 600, 0.05)


def test_five_seeds_cannot_give_a_rank_based_verdict():
    (stable,) = claims_replacement(
        metrics({"m1": 0.2, "m16": 0.0, "replace_s1": 0.2}, seeds=5), "e", control="m16"
    )
    assert stable.verdict == INCONCLUSIVE and not np.isfinite(stable.ci_low)


def test_all_claims_takes_the_control_from_the_config():
    from gnitails.claims import all_claims

    df = metrics({"m1": 0.2, "m16": 0.0, "explicit": 0.13, "replace_gauss": 0.13}, seeds=10)
    spec = {
        "training": {
            "rules": ["gni_m", "replace_gauss"],
            "m_values": [1, 16],
            "replace_mean": "explicit",
        }
    }
    table = all_claims({"fig_replacement": {"experiments": ["e"]}}, df, None, None, {"e": spec})
    assert table["verdict"].tolist() == [REPRODUCED]
    assert "explicit" in table["evidence"].item()


def test_missing_runs_are_not_a_verdict():
    claim = claim_larger_m(metrics({"m1": 0.1}), "e")
    assert claim.verdict == "not run"


def tail_fits(heavy: dict[str, list[bool]], skewed: dict[str, list[bool]] | None = None):
    """ECF fits of Z's weights with their null verdicts: one row per layer and view."""
    rows = []
    for sample, flags in heavy.items():
        for layer, h in enumerate(flags, start=1):
            s = (skewed or {}).get(sample, [False] * len(flags))[layer - 1]
            rows.append(
                {
                    "experiment": "e",
                    "quantity": "z_mc",
                    "param": "weight",
                    "estimator": "ecf",
                    "sample": sample,
                    "step": 0,
                    "layer": layer,
                    "alpha": 1.8 if h else 1.97,
                    "beta": 0.6 if s else 0.0,
                    "n_null": 99,
                    "null_alpha_med": 1.96,
                    "null_beta_med": 0.0,
                    "heavy": h,
                    "skewed": s,
                }
            )
    # descriptive rows (no null) and other quantities are not counted
    rows.append({**rows[0], "sample": "coords", "n_null": 0, "heavy": None})
    rows.append({**rows[0], "quantity": "z_r"})
    return pd.DataFrame(rows)


def test_tail_claims_count_fits_heavy_against_their_null_per_view():
    fits = tail_fits(
        {"standardized": [True] * 6, "per_coordinate": [False] * 9 + [True]},
        {"standardized": [True] * 4 + [False] * 2, "per_coordinate": [False] * 10},
    )
    heavy_pooled, heavy_coord, skew_pooled, skew_coord = claims_tails(fits, "e")
    assert "pooled view" in heavy_pooled.claim and "per-coordinate" in heavy_coord.claim
    assert heavy_pooled.verdict == REPRODUCED and heavy_pooled.n == 6
    assert heavy_pooled.estimate == 1.0 and "6 of 6" in heavy_pooled.evidence
    assert heavy_pooled.ci_low == pytest.approx(0.025 ** (1 / 6))  # Clopper-Pearson, k = n
    # 1 of 10 at a 2.5% false-positive rate: within chance (P(X >= 1) = 0.22)
    assert heavy_coord.verdict == NOT_REPRODUCED and "1 of 10" in heavy_coord.evidence
    assert heavy_coord.p_value == pytest.approx(1 - 0.975**10)
    assert "median α̂ 1.970, null median 1.960" in heavy_coord.evidence
    with_kurtosis = fits.assign(coord_kurtosis_med=0.1, coord_kurtosis_q90=6.0)
    _, heavy_coord, *_ = claims_tails(with_kurtosis, "e")
    assert "across draws: median 0.1, 90% quantile 6" in heavy_coord.evidence
    assert "pooled view only: a scale-mixture effect" in heavy_coord.evidence
    assert skew_pooled.verdict == REPRODUCED and skew_coord.verdict == NOT_REPRODUCED
    assert "across coordinates only" in skew_pooled.evidence


def test_tail_claims_are_inconclusive_between_chance_and_most():
    fits = tail_fits({"standardized": [True] * 3 + [False] * 5, "per_coordinate": [True] * 8})
    heavy_pooled, heavy_coord, *_ = claims_tails(fits, "e")
    assert heavy_pooled.verdict == INCONCLUSIVE and heavy_coord.verdict == REPRODUCED
    assert "pooled view inconclusive, per-coordinate view reproduced" in heavy_pooled.evidence
    # half the fits, though within chance for so few, is not evidence against the claim
    heavy_pooled, *_ = claims_tails(tail_fits({"standardized": [True, False]}), "e")
    assert heavy_pooled.verdict == INCONCLUSIVE


def test_tail_claims_need_fits_with_a_null():
    fits = tail_fits({"standardized": [True] * 3}).drop(columns=["n_null"])
    assert {c.verdict for c in claims_tails(fits, "e")} == {"not run"}
    assert {c.verdict for c in claims_tails(tail_fits({"standardized": [True]}), "x")} == {
        "not run"
    }


def test_sde_claim_needs_bias_only_where_theory_puts_it():
    from gnitails.claims import claim_sde_bias

    rows = []
    for alpha in (1.5, 2.0):
        for beta in (-0.5, 0.0, 0.5):
            moved = beta != 0 and alpha < 2
            centre = -beta if moved else 0.0
            rows.append(
                {
                    "study": "ou",
                    "potential": "ou(theta=[1])",
                    "parametrization": "S1",
                    "coord": 0,
                    "alpha": alpha,
                    "beta": beta,
                    "mode_bias": centre,
                    "mode_bias_lo": centre - 0.1,
                    "mode_bias_hi": centre + 0.1,
                }
            )
    table = pd.DataFrame(rows)
    claim = claim_sde_bias(table)
    assert claim.verdict == REPRODUCED and "2 of 2" in claim.evidence and "4 of 4" in claim.evidence
    flat = table.assign(mode_bias_lo=-0.1, mode_bias_hi=0.1)
    assert claim_sde_bias(flat).verdict == NOT_REPRODUCED
    assert claim_sde_bias(table.assign(parametrization="S0")).verdict == "not run"


def test_diverged_seeds_rank_worst_and_are_counted():
    from gnitails.claims import DIVERGED

    df = metrics({"m1": 0.2, "m16": 0.0, "replace_s1": 0.2, "replace_authors": 0.2}, seeds=10)
    df.loc[(df["run"] == "replace_s1") & (df["step"] > 50), "train_loss"] = np.nan
    authors = (df["run"] == "replace_authors") & (df["seed"] == 0) & (df["step"] > 50)
    df.loc[authors, "train_loss"] = np.inf
    stable, drift = claims_replacement(df, "e", control="m16")
    assert stable.verdict == DIVERGED and stable.n == 10 and stable.diverged == 10
    assert "replace_s1 10 of 10 seeds" in stable.evidence
    # One diverged seed is kept (ranked worst), not dropped: still 10 pairs, still a degradation.
    assert drift.n == 10 and drift.diverged == 1 and "1 of 10 seeds" in drift.evidence
    assert drift.verdict == REPRODUCED


def test_claims_markdown_keeps_one_cell_per_column(tmp_path):
    from gnitails.claims import Claim, claims_frame, write_claims

    table = claims_frame([Claim("c", "e", "a | b", 1.0, 0.5, 1.5, 3, REPRODUCED)])
    write_claims(table, tmp_path / "c.csv", tmp_path / "c.md")
    row = (tmp_path / "c.md").read_text().splitlines()[-1]
    assert row.replace("\\|", "").count("|") == 7  # six cells
    assert pd.read_csv(tmp_path / "c.csv")["evidence"].item() == "a | b"

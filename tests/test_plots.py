"""Figure and table code on small hand-made tables: right numbers, stable bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gnitails.plots.lm import draw_lm, lm_curves
from gnitails.plots.style import save_figure
from gnitails.plots.summary import mean_ci
from gnitails.plots.tables import performance_table, write_table


def metrics_table() -> pd.DataFrame:
    rows = []
    for experiment in ("a", "b"):
        for m in (1, 16):
            for seed in range(3):
                for step in (0, 10, 20):
                    loss = 5.0 - 0.1 * step / 10 - (0.05 if m == 16 else 0) + 0.01 * seed
                    rows.append(
                        {
                            "experiment": experiment,
                            "run": f"m{m}",
                            "rule": "gni_m",
                            "m": m,
                            "seed": seed,
                            "step": step,
                            "train_loss": loss,
                            "test_loss": loss + 0.2,
                            "test_accuracy": np.nan,
                        }
                    )
    return pd.DataFrame(rows)


def test_mean_ci_is_the_t_interval():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    mean, low, high, n = mean_ci(x)
    half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2
    assert n == 4 and mean == pytest.approx(3.5)
    assert (low, high) == pytest.approx((3.5 - half, 3.5 + half))
    assert np.isnan(mean_ci([1.0])[1]) and mean_ci([])[3] == 0


def test_lm_curves_average_over_seeds_only():
    curves = lm_curves(metrics_table())
    assert len(curves) == 2 * 2 * 3  # experiments x M x steps
    row = curves[(curves.experiment == "a") & (curves.m == 16) & (curves.step == 20)].iloc[0]
    assert row["mean"] == pytest.approx(5.0 - 0.2 - 0.05 + 0.01) and row["n"] == 3


def test_figure_bytes_are_stable(tmp_path):
    curves = lm_curves(metrics_table())
    digests = []
    for attempt in range(2):
        pdf, png = tmp_path / f"{attempt}.pdf", tmp_path / f"{attempt}.png"
        save_figure(draw_lm(curves, ["a", "b"]), pdf, png)
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in (pdf, png)])
    assert digests[0] == digests[1]
    assert b"CreationDate" not in (tmp_path / "0.pdf").read_bytes()


def test_performance_table_uses_the_last_step(tmp_path):
    table = performance_table(metrics_table())
    assert set(table["metric"]) == {"train_loss", "test_loss"}  # accuracy is all NaN here
    row = table[(table.experiment == "b") & (table.run == "m1") & (table.metric == "test_loss")]
    assert row["mean"].item() == pytest.approx(5.0 - 0.2 + 0.01 + 0.2)
    write_table(table, tmp_path / "t.csv", tmp_path / "t.md", "T")
    md = (tmp_path / "t.md").read_text()
    assert "| b | m16 | 3 | 4.9600 [" in md  # test loss: 5 - 0.2 - 0.05 + 0.01 + 0.2
    assert pd.read_csv(tmp_path / "t.csv").shape == table.shape

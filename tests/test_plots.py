"""Figure and table code on small hand-made tables: right numbers, stable bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gnitails.errors import InputFileError
from gnitails.plots.curves import draw_curves, loss_curves, run_label
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


def test_loss_curves_average_over_seeds_only():
    curves = loss_curves(metrics_table(), "step", "train_loss")
    assert len(curves) == 2 * 2 * 3  # experiments x M x steps
    row = curves[(curves.experiment == "a") & (curves.run == "m16") & (curves.step == 20)].iloc[0]
    assert row["mean"] == pytest.approx(5.0 - 0.2 - 0.05 + 0.01) and row["n"] == 3
    only = loss_curves(metrics_table(), "step", "train_loss", runs=["m16", "m1"])
    assert list(dict.fromkeys(only["run"])) == ["m16", "m1"]


def test_run_labels():
    assert run_label("m16") == "M = 16" and run_label("explicit").startswith("L + R")


def test_figure_bytes_are_stable(tmp_path):
    curves = loss_curves(metrics_table(), "step", "train_loss")
    digests = []
    for attempt in range(2):
        pdf, png = tmp_path / f"{attempt}.pdf", tmp_path / f"{attempt}.png"
        save_figure(draw_curves(curves, ["a", "b"], "step", "train_loss"), pdf, png)
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


def with_diverged_arm(seeds_diverged) -> pd.DataFrame:
    """metrics_table() plus a replacement arm of experiment a whose given seeds end in NaN."""
    arm = metrics_table().query("experiment == 'a' and run == 'm1'").copy()
    arm["run"], arm["rule"] = "stable_corrected", "replace_stable"
    arm["test_accuracy"] = 0.5  # a diverged classifier can still score: never averaged in
    last = arm["seed"].isin(seeds_diverged) & (arm["step"] == 20)
    arm.loc[last, ["train_loss", "test_loss"]] = np.nan
    return pd.concat([metrics_table(), arm], ignore_index=True)


def test_performance_table_counts_diverged_seeds_and_leaves_them_out(tmp_path):
    table = performance_table(with_diverged_arm([1, 2]))
    arm = table[table.run == "stable_corrected"].set_index("metric")
    assert arm.loc["train_loss", "mean"] == pytest.approx(5.0 - 0.2)  # seed 0 alone
    assert arm["n"].tolist() == [1, 1, 1] and arm["diverged"].tolist() == [2, 2, 2]
    assert table[table.run == "m1"]["diverged"].eq(0).all()
    write_table(table, tmp_path / "t.csv", tmp_path / "t.md", "T")
    assert "| a | stable_corrected | 3 (2 diverged) | 0.5000 |" in (tmp_path / "t.md").read_text()


def test_performance_table_shows_a_run_diverged_in_every_seed(tmp_path):
    table = performance_table(with_diverged_arm([0, 1, 2]))
    arm = table[table.run == "stable_corrected"]
    assert arm["n"].eq(0).all() and arm["diverged"].eq(3).all()
    write_table(table, tmp_path / "t.csv", tmp_path / "t.md", "T")
    md = (tmp_path / "t.md").read_text()
    assert "| a | stable_corrected | 3 (3 diverged) | diverged | diverged | diverged |" in md


@pytest.mark.parametrize(
    "metrics",
    [
        metrics_table().assign(train_loss=np.nan, test_loss=np.nan),
        metrics_table().iloc[:0],
    ],
    ids=["all-non-finite", "no-rows"],
)
def test_performance_table_with_nothing_to_tabulate_says_so(metrics):
    with pytest.raises(InputFileError, match="performance table: nothing to tabulate") as info:
        performance_table(metrics)
    if len(metrics):
        assert "'a/m1'" in str(info.value)


# --- gradient-noise figures ----------------------------------------------------------------


def fits_table() -> pd.DataFrame:
    rows = []
    for quantity, sample in (
        ("z_mc", "coords"),
        ("z_mc", "standardized"),
        ("z_mc", "per_coordinate"),
        ("z_r", "coords"),
    ):
        for layer in (1, 2, 3):
            for estimator in ("ecf", "quantile", "mohammadi"):
                alpha = 1.5 + 0.1 * layer
                rows.append(
                    {
                        "experiment": "a",
                        "run": "m1",
                        "seed": 0,
                        "step": 100,
                        "quantity": quantity,
                        "layer": layer,
                        "param": "weight",
                        "sample": sample,
                        "estimator": estimator,
                        "n": 4096,
                        "alpha": alpha,
                        "alpha_lo": alpha - 0.02,
                        "alpha_hi": alpha + 0.02,
                        "beta": 0.3,
                        "beta_lo": 0.25,
                        "beta_hi": 0.35,
                        "scale": 1.0,
                        "loc_s1": 0.0,
                        "loc_s0": 0.3 * np.tan(np.pi * alpha / 2),
                        "skewness": 2.0,
                        "kurtosis": 9.0,
                        "gof": 0.01,
                        "parametrization": "S1",
                        **null_columns(quantity, sample, estimator, alpha),
                    }
                )
    return pd.DataFrame(rows)


def null_columns(quantity, sample, estimator, alpha) -> dict:
    """Null columns as the fits table has them: only Z's two views, ECF rows, have a null."""
    tested = quantity == "z_mc" and sample != "coords" and estimator == "ecf"
    if not tested:
        return {"n_null": 0, "heavy": None, "skewed": None}
    return {
        "n_null": 200,
        "null_alpha_med": 1.95,
        "null_alpha_lo": 1.9,
        "null_alpha_hi": 1.99,
        "null_beta_med": 0.0,
        "null_beta_lo": -0.5,
        "null_beta_hi": 0.5,
        "p_alpha": 0.005 if alpha < 1.9 else 0.5,
        "p_beta": 0.5,
        "heavy": alpha < 1.9,
        "skewed": False,
    }


def test_log_density_integrates_to_one():
    from gnitails.plots.noise import log_density

    x = np.random.default_rng(0).standard_normal(20_000)
    centres, logd = log_density(x)
    width = np.diff(centres).min()
    assert np.sum(10**logd) * width == pytest.approx(1, abs=0.02)
    peak = centres[np.argmax(logd)]
    assert abs(peak) < 2 * width
    assert logd.max() == pytest.approx(np.log10(stats.norm.pdf(0)), abs=0.05)


def test_stable_log_pdf_is_scipys_s1_density():
    from gnitails.plots.noise import stable_log_pdf

    grid = np.array([-2.0, 0.0, 3.0])
    expected = np.log10(stats.levy_stable.pdf(grid, 1.5, 0.5, loc=0.2, scale=2.0))
    np.testing.assert_allclose(stable_log_pdf(grid, 1.5, 0.5, 2.0, 0.2), expected)


def test_mixture_density_is_the_mean_of_its_gaussians():
    from gnitails.plots.noise import mixture_log_pdf

    grid = np.array([-1.0, 0.0, 2.5])
    expected = (stats.norm.pdf(grid, 0.0, 1.0) + stats.norm.pdf(grid, 1.0, 3.0)) / 2
    np.testing.assert_allclose(mixture_log_pdf(grid, [0.0, 1.0], [1.0, 3.0]), np.log10(expected))


def test_noise_figures_render_and_are_stable(tmp_path):
    from gnitails.plots.noise import density_grid, draw_tail_index, tail_index_frame

    rng = np.random.default_rng(0)
    fits = fits_table()
    frame = tail_index_frame(fits)
    assert set(frame["quantity"]) == {"z_mc"} and set(frame["estimator"]) == {"ecf"}
    assert set(frame["sample"]) == {"standardized", "per_coordinate"}  # the two views
    assert frame["n_null"].gt(0).all()
    mixture = (np.zeros(30), np.exp(rng.normal(0, 1, 30)))
    rows = [[(rng.standard_t(3, 500), mixture, "W1"), (rng.standard_normal(50), None, "W2")]]
    for attempt in range(2):
        fig, data = density_grid(rows, ["a"])
        save_figure(fig, tmp_path / f"h{attempt}.png")
        save_figure(draw_tail_index(frame, ["a"]), tmp_path / f"t{attempt}.pdf")
    for stem, ext in (("h", "png"), ("t", "pdf")):
        assert (tmp_path / f"{stem}0.{ext}").read_bytes() == (
            tmp_path / f"{stem}1.{ext}"
        ).read_bytes()
    # the plotted numbers: every curve of every panel, the mixture only where given
    assert set(data.groupby("panel")["curve"].unique().map(frozenset)) == {
        frozenset({"data", "gaussian", "mixture"}),
        frozenset({"data", "gaussian"}),
    }


def test_density_panel_names_its_statistics_and_flags_few_points():
    from gnitails.plots.noise import density_grid

    x = np.random.default_rng(1).standard_normal(60)
    fig, _ = density_grid([[(x, None, "W5"), (np.r_[x, x, x], None, "W2")]], ["a"])
    few, many = fig.axes[0], fig.axes[1]
    assert "excess kurtosis" in few.get_title() and "few points" in few.get_title()
    assert "few points" not in many.get_title() and few.get_xlabel() == "noise value"
    assert not few.texts  # no statistics box over the data


def test_tail_index_figure_shows_whole_intervals_and_null_bands():
    from gnitails.plots.noise import draw_tail_index, tail_index_frame

    fits = fits_table()
    z = (fits["quantity"] == "z_mc") & (fits["sample"] == "per_coordinate")
    fits.loc[z & (fits["layer"] == 1), ["alpha", "alpha_lo", "alpha_hi"]] = [1.2, 0.4, 2.3]
    fig = draw_tail_index(tail_index_frame(fits), ["a"])
    alpha_ax = fig.axes[0]
    assert alpha_ax.get_ylim()[0] <= 0.4 and 2.0 <= alpha_ax.get_ylim()[1] < 2.3
    assert not alpha_ax.get_legend()  # the legend is the figure's, below the panels
    assert not [ln for ln in alpha_ax.get_lines() if len(ln.get_xdata()) > 1 and ln.get_ls() == "-"]
    bands = [p for p in alpha_ax.patches if p.get_height() > 0]
    assert len(bands) == 6  # one null band per layer and view
    assert {round(p.get_y(), 6) for p in bands} == {1.9}


def test_tail_index_table_keeps_every_estimator(tmp_path):
    from gnitails.plots.noise import tail_index_table
    from gnitails.plots.tables import write_tail_index_table

    table = tail_index_table(fits_table())
    assert len(table) == 4 * 3 * 3 and set(table["estimator"]) == {"ecf", "quantile", "mohammadi"}
    write_tail_index_table(table, tmp_path / "t.csv", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    row = "| z_mc | 1 | coords | ecf | 4096 | 1.600 [1.580, 1.620] | 0.300 [0.250, 0.350] |"
    assert f"{row} 2 | 9 | – | – | – | – |" in md  # a descriptive row: no null
    tested = "| 1.950 [1.900, 1.990] | yes | 0.000 [-0.500, 0.500] | no |"
    assert md.count(tested) == 6  # 3 layers x 2 views of Z, all alpha-hat < 1.9: heavy
    assert pd.read_csv(tmp_path / "t.csv")["n_null"].max() == 200


def test_replacement_curves_keep_diverged_seeds(tmp_path):
    from gnitails.plots.curves import draw_quantile_curves, quantile_curves

    rows = [
        {"experiment": "e", "run": run, "seed": seed, "step": step, "train_loss": 1.0 + seed}
        for run in ("m16", "replace_s1")
        for seed in range(4)
        for step in (0, 10, 20)
    ]
    df = pd.DataFrame(rows)
    # Seeds 2 and 3 of the arm diverge at steps 10 and 20.
    df.loc[(df["run"] == "replace_s1") & (df["seed"] == 3) & (df["step"] >= 10), "train_loss"] = (
        np.nan
    )
    df.loc[(df["run"] == "replace_s1") & (df["seed"] == 2) & (df["step"] >= 20), "train_loss"] = (
        np.inf
    )
    curves = quantile_curves(df, {"e": ["m16", "replace_s1"]}, "step", "train_loss")
    arm = curves[curves["run"] == "replace_s1"].set_index("step")
    assert arm["n"].tolist() == [4, 4, 4] and arm["diverged"].tolist() == [0, 1, 2]
    # Losses 1, 2, 3, 4 then 1, 2, 3, inf then 1, 2, inf, inf: medians 2.5, 2.5, inf.
    assert arm["median"].tolist() == [2.5, 2.5, np.inf]
    assert curves[curves["run"] == "m16"]["median"].tolist() == [2.5] * 3
    fig = draw_quantile_curves(curves, "step", "train_loss")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["M = 16 (n = 4)", "+ fitted stable (corrected) (n = 4, 2 diverged)"]
    assert fig.axes[0].get_yscale() == "log"
    save_figure(fig, tmp_path / "r.png")


def test_wide_density_rows_wrap_at_report_width():
    """Six panels of one row become two figure rows of three, every panel drawn once."""
    from gnitails.plots.noise import MAX_COLUMNS, density_grid

    x = np.random.default_rng(2).standard_normal(200)
    row = [(x, None, f"h{k}") for k in range(6)]
    fig, data = density_grid([row, row[:2]], ["step 0", "step 9"])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 8 and MAX_COLUMNS == 3
    assert fig.get_size_inches()[0] == pytest.approx(3.4 * MAX_COLUMNS)
    assert sorted(data.groupby("row")["panel"].nunique()) == [2, 6]
    assert [ax.get_ylabel().splitlines()[0] for ax in visible if "\n" in ax.get_ylabel()] == [
        "step 0",
        "step 0",
        "step 9",
    ]


def test_markdown_tables_become_html_pages():
    from gnitails.plots.html import markdown_to_html

    md = "# Claims\n\nSome note\non two lines.\n\n| a | b |\n|---|---|\n| x \\| y | <1> |\n\nafter"
    page = markdown_to_html(md)
    assert "<title>Claims</title>" in page and "<h1>Claims</h1>" in page
    assert "<p>Some note on two lines.</p>" in page and "<p>after</p>" in page
    assert "<th>a</th><th>b</th>" in page
    assert "<td>x | y</td><td>&lt;1&gt;</td>" in page  # escaped pipes stay in their cell
    assert page.count("<tr>") == 2

"""Loss curves over training (fig_lm, fig_replacement, fig_r_vs_gni): mean and 95% band over
seeds for each run of each experiment, computed from the stored metrics and drawn as they are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnitails.plots.style import panels, save_figure
from gnitails.plots.summary import summarise
from gnitails.plots.tables import write_csv
from gnitails.runs import RunSpec

AXIS_LABELS = {
    "step": "training step",
    "epoch": "epoch",
    "train_loss": "clean training loss",
    "test_loss": "clean test loss",
    "test_accuracy": "test accuracy",
}
RUN_LABELS = {
    "baseline": "no noise",
    "gni": "GNI",
    "explicit": "L + R (explicit regulariser)",
    "replace_s1": "+ fitted stable (corrected)",
    "replace_gauss": "+ Gaussian (corrected)",
    "replace_authors": "+ fitted stable (authors)",
    "replace_authors_gauss": "+ Gaussian (authors)",
}
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
MIN_BAND_SEEDS = 3  # fewer seeds give no band: a spread of two is no spread


def run_label(run: str) -> str:
    spec = RunSpec.parse(run) if run not in RUN_LABELS else None
    return f"M = {spec.m}" if spec and spec.rule == "gni_m" else RUN_LABELS.get(run, run)


def loss_curves(metrics: pd.DataFrame, x: str, y: str, runs: list[str] | None = None):
    """Mean, CI and count over seeds of `y` per experiment, run and `x` (runs in given order)."""
    if runs is not None:
        metrics = metrics[metrics["run"].isin(runs)]
    curves = summarise(metrics, ["experiment", "run", x], y)
    order = runs or list(dict.fromkeys(metrics["run"]))
    rank = curves["run"].map({r: i for i, r in enumerate(order)})
    return curves.assign(_r=rank).sort_values(["experiment", "_r", x]).drop(columns="_r")


def draw_curves(curves: pd.DataFrame, experiments: list[str], x: str, y: str):
    fig, axes = panels(len(experiments))
    for ax, name in zip(axes, experiments, strict=True):
        sub = curves[curves["experiment"] == name]
        for i, (run, line) in enumerate(sub.groupby("run", sort=False)):
            ax.plot(line[x], line["mean"], ls=LINESTYLES[i % len(LINESTYLES)], label=run_label(run))
            if np.isfinite(line["ci_low"]).any():
                ax.fill_between(line[x], line["ci_low"], line["ci_high"], alpha=0.2)
        ax.set_title(name)
        ax.set_xlabel(AXIS_LABELS.get(x, x))
        ax.set_ylabel(AXIS_LABELS.get(y, y))
        seeds = int(sub["n"].max()) if len(sub) else 0
        ax.legend(title=f"mean, 95% CI, {seeds} seeds", fontsize="small", title_fontsize="small")
    fig.tight_layout()
    return fig


def loss_figure(metrics: pd.DataFrame, experiments, x, y, runs, pdf, png, data) -> pd.DataFrame:
    """Summarise, write the plotted numbers to `data` (CSV), draw and save; returns the curves."""
    curves = loss_curves(metrics, x, y, runs)
    write_csv(curves, data)
    save_figure(draw_curves(curves, list(experiments), x, y), pdf, png)
    return curves


def quantile_curves(metrics: pd.DataFrame, runs: dict[str, list[str]], x: str, y: str):
    """Per experiment, run and `x`: median and quartiles of `y` over *all* seeds, a diverged
    seed (non-finite `y`) counting as +inf, plus the seed count and how many have diverged.

    Medians and quartiles need no seed to be dropped: a blow-up moves them only once a quarter
    (or half) of the seeds have diverged, which is then what the curve shows.
    """
    rows = []
    for experiment, names in runs.items():
        sub = metrics[metrics["experiment"] == experiment]
        for name in names:
            wide = sub[sub["run"] == name].pivot(index=x, columns="seed", values=y)
            values = np.where(np.isfinite(wide.to_numpy(float)), wide.to_numpy(float), np.inf)
            diverged = np.maximum.accumulate(~np.isfinite(values), axis=0)
            q25, median, q75 = _quantiles_with_inf(values, [0.25, 0.5, 0.75])
            for i, at in enumerate(wide.index):
                rows.append(
                    {
                        "experiment": experiment,
                        "run": name,
                        x: at,
                        "median": median[i],
                        "q25": q25[i],
                        "q75": q75[i],
                        "n": values.shape[1],
                        "diverged": int(diverged[i].sum()),
                    }
                )
    return pd.DataFrame(rows)


def _quantiles_with_inf(values: np.ndarray, probs) -> np.ndarray:
    """Row-wise quantiles (axis 1) where +inf is a value, not an error: any quantile that
    interpolates towards an infinite value is infinite (inf - inf would give NaN)."""
    big = np.finfo(np.float64).max
    q = np.quantile(np.where(np.isinf(values), big, values), probs, axis=1)
    return np.where(q > 1e300, np.inf, q)


def draw_quantile_curves(curves: pd.DataFrame, x: str, y: str):
    """Median lines (log scale: losses are positive), quartile bands from >= 3 seeds, each
    run told apart by colour and line style, and the seed count and divergence in the legend;
    a cross on the top edge marks the step at which each seed diverged."""
    experiments = list(dict.fromkeys(curves["experiment"]))
    fig, axes = panels(len(experiments))
    for ax, name in zip(axes, experiments, strict=True):
        sub = curves[curves["experiment"] == name]
        for i, (run, line) in enumerate(sub.groupby("run", sort=False)):
            n, diverged = int(line["n"].max()), int(line["diverged"].max())
            label = f"{run_label(run)} (n = {n}" + (f", {diverged} diverged)" if diverged else ")")
            finite = np.isfinite(line["median"])
            (drawn,) = ax.plot(
                line[x][finite], line["median"][finite], ls=LINESTYLES[i % len(LINESTYLES)],
                label=label,
            )  # fmt: skip
            if n >= MIN_BAND_SEEDS:
                ax.fill_between(
                    line[x], line["q25"], np.where(np.isfinite(line["q75"]), line["q75"], np.nan),
                    alpha=0.15, color=drawn.get_color(),
                )  # fmt: skip
            new = line[x][line["diverged"].diff().fillna(line["diverged"]) > 0]
            ax.plot(
                new, np.ones(len(new)), "x", color=drawn.get_color(), ms=6, clip_on=False,
                transform=ax.get_xaxis_transform(),
            )  # fmt: skip
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel(AXIS_LABELS.get(x, x))
        ax.set_ylabel(AXIS_LABELS.get(y, y) + " (median, quartiles)")
    for ax in axes:  # below each panel: the divergence counts differ between panels
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.subplots_adjust(wspace=0.3)  # no tight_layout: it would shrink the axes to the legends
    return fig

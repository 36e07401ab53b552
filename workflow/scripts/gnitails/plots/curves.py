"""Loss curves over training (fig_lm, fig_replacement, fig_r_vs_gni): mean and 95% band over
seeds for each run of each experiment, computed from the stored metrics and drawn as they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gnitails.plots.style import panels, save_figure
from gnitails.plots.summary import summarise
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
    "replace_s1": "M = 16 + fitted stable (S1)",
    "replace_s0": "M = 16 + fitted stable (S0, loc 0)",
    "replace_gauss": "M = 16 + Gaussian",
}


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
        for run, line in sub.groupby("run", sort=False):
            ax.plot(line[x], line["mean"], label=run_label(run))
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
    Path(data).parent.mkdir(parents=True, exist_ok=True)
    curves.to_csv(data, index=False, float_format="%.9g")
    save_figure(draw_curves(curves, list(experiments), x, y), pdf, png)
    return curves

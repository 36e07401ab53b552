"""fig_lm: clean training loss against step, one curve per M, for each experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnitails.plots.style import panels
from gnitails.plots.summary import summarise


def lm_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and CI over seeds of the clean train loss per experiment, M and step.

    `metrics` holds the rows of every run's metrics.parquet plus `experiment`, `m` and `seed`.
    """
    return summarise(metrics, ["experiment", "m", "step"], "train_loss")


def draw_lm(curves: pd.DataFrame, experiments: list[str], titles: dict[str, str] | None = None):
    fig, axes = panels(len(experiments))
    for ax, name in zip(axes, experiments, strict=True):
        sub = curves[curves["experiment"] == name]
        for m, line in sub.groupby("m", sort=True):
            ax.plot(line["step"], line["mean"], label=f"M = {m}")
            if np.isfinite(line["ci_low"]).any():
                ax.fill_between(line["step"], line["ci_low"], line["ci_high"], alpha=0.2)
        ax.set_title((titles or {}).get(name, name))
        ax.set_xlabel("training step")
        ax.set_ylabel("clean training loss")
        ax.legend(title=f"mean, 95% CI, {int(sub['n'].max())} seeds", fontsize="small")
    fig.tight_layout()
    return fig

"""fig_sde_bias: simulated biases of the Lévy-driven SDE against β for each α, with the closed
form (dashed) wherever one exists, one row per study."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnitails.plots.style import apply_style, plt

BIASES = {"mean_bias": "mean − w*", "median_bias": "median − w*", "mode_bias": "mode − w*"}


def draw_sde_bias(table: pd.DataFrame):
    apply_style()
    studies = list(dict.fromkeys(table["study"]))
    fig, axes = plt.subplots(
        len(studies), len(BIASES), figsize=(3.6 * len(BIASES), 2.8 * len(studies)), squeeze=False
    )
    alphas = sorted(table["alpha"].unique())
    colours = dict(zip(alphas, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for i, study in enumerate(studies):
        sub = table[(table["study"] == study) & (table["coord"] == 0)]
        for j, (col, label) in enumerate(BIASES.items()):
            ax = axes[i][j]
            for alpha, rows in sub.groupby("alpha", sort=True):
                rows = rows.sort_values("beta")
                y = rows[col].to_numpy()
                err = np.vstack(
                    [np.nan_to_num(y - rows[f"{col}_lo"]), np.nan_to_num(rows[f"{col}_hi"] - y)]
                )
                ax.errorbar(
                    rows["beta"],
                    y,
                    yerr=err,
                    fmt="o",
                    ms=3,
                    capsize=2,
                    color=colours[alpha],
                    label=f"α = {alpha:g}",
                )
                closed = rows[f"{col}_closed"].to_numpy()
                if np.isfinite(closed).any():
                    ax.plot(rows["beta"], closed, "--", lw=1, color=colours[alpha])
            ax.axhline(0, color="0.5", lw=0.8, ls=":")
            ax.set_xlabel("β")
            ax.set_ylabel(label)
            if j == 0:
                ax.set_title(
                    f"{study}: {sub['potential'].iloc[0]}, {sub['parametrization'].iloc[0]}",
                    fontsize="small",
                    loc="left",
                )
        axes[i][0].legend(fontsize="x-small", title="dashed: closed form", title_fontsize="x-small")
    fig.tight_layout()
    return fig

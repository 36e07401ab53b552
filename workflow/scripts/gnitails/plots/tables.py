"""Tables: summaries written as CSV (exact values) and Markdown (rounded, for reading)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gnitails.plots.summary import summarise

PERFORMANCE_METRICS = ("train_loss", "test_loss", "test_accuracy")


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last recorded row of every run (experiment, run, seed)."""
    last = metrics.groupby(["experiment", "run", "seed"], sort=True)["step"].transform("max")
    return metrics[metrics["step"] == last]


def performance_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Final clean train loss, test loss and test accuracy per experiment and run, over seeds."""
    final = final_rows(metrics)
    parts = []
    for metric in PERFORMANCE_METRICS:
        if metric not in final or final[metric].isna().all():
            continue
        table = summarise(final, ["experiment", "run"], metric)
        table.insert(2, "metric", metric)
        parts.append(table)
    table = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(dict.fromkeys(metrics["experiment"]))}
    runs = {name: i for i, name in enumerate(dict.fromkeys(metrics["run"]))}
    key = table["experiment"].map(order) * 1000 + table["run"].map(runs)
    return table.assign(_k=key).sort_values(["_k", "metric"], kind="stable").drop(columns="_k")


def format_ci(mean: float, low: float, high: float, digits: int = 4) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def write_markdown(frame: pd.DataFrame, path: str | Path, title: str, note: str) -> None:
    lines = [
        f"# {title}",
        "",
        note,
        "",
        "| " + " | ".join(map(str, frame.columns)) + " |",
        "|" + "---|" * len(frame.columns),
    ]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    Path(path).write_text("\n".join(lines) + "\n")


def write_table(table: pd.DataFrame, csv: str | Path, md: str | Path, title: str) -> None:
    """CSV with every digit; Markdown with mean [95% CI] per metric column."""
    table.to_csv(csv, index=False, float_format="%.9g")
    cells = [format_ci(*r) for r in table[["mean", "ci_low", "ci_high"]].to_numpy()]
    wide = (
        table.assign(value=cells)
        .pivot_table(
            index=["experiment", "run"],
            columns="metric",
            values="value",
            aggfunc="first",
            sort=False,
        )
        .reset_index()
    )
    wide.insert(2, "seeds", table.groupby(["experiment", "run"], sort=False)["n"].max().to_numpy())
    write_markdown(wide, md, title, "Mean over seeds [95% t-interval].")


def write_tail_index_table(table: pd.DataFrame, csv: str | Path, md: str | Path) -> None:
    """CSV with every digit; Markdown with α̂ and β̂ [95% CI] per layer and estimator."""
    table.to_csv(csv, index=False, float_format="%.9g")
    shown = table[["experiment", "step", "quantity", "layer", "sample", "estimator", "n"]].copy()
    for par in ("alpha", "beta"):
        shown[par] = [
            format_ci(*r, digits=3) for r in table[[par, f"{par}_lo", f"{par}_hi"]].to_numpy()
        ]
    shown["skewness"] = table["skewness"].map("{:.3g}".format)
    shown["kurtosis"] = table["kurtosis"].map("{:.3g}".format)
    write_markdown(
        shown,
        md,
        "Tail index and skewness of the gradient noise",
        "Per-layer weight noise, all coordinates of one draw; S1; α̂, β̂ [95% CI].",
    )

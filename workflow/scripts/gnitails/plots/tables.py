"""Tables: summaries written as CSV (exact values) and Markdown (rounded, for reading)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gnitails.atomic import atomic_path, write_bytes
from gnitails.errors import InputFileError
from gnitails.plots.summary import summarise

PERFORMANCE_METRICS = ("train_loss", "test_loss", "test_accuracy")


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last recorded row of every run (experiment, run, seed)."""
    last = metrics.groupby(["experiment", "run", "seed"], sort=True)["step"].transform("max")
    return metrics[metrics["step"] == last]


def diverged(final: pd.DataFrame) -> np.ndarray:
    """Which final rows belong to a diverged seed: a non-finite train or test loss.

    Such a seed is left out of every metric's mean (a diverged classifier's accuracy can be
    finite yet meaningless) and counted instead; replacement arms diverge as an outcome.
    """
    losses = final[[c for c in ("train_loss", "test_loss") if c in final]]
    return ~np.isfinite(losses.to_numpy(dtype=np.float64)).all(axis=1)


def performance_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Final clean train loss, test loss and test accuracy per experiment and run, over seeds.

    Columns: experiment, run, metric, mean, ci_low, ci_high, n (seeds in the mean) and
    diverged (seeds left out as diverged; 0 where the experiment never records the metric,
    e.g. accuracy in a regression).
    """
    recorded = [m for m in PERFORMANCE_METRICS if m in metrics and metrics[m].notna().any()]
    if not recorded:
        runs = sorted(set(metrics.get("experiment", pd.Series(dtype=str)) + "/"
                          + metrics.get("run", pd.Series(dtype=str))))  # fmt: skip
        raise InputFileError(
            f"performance table: nothing to tabulate, no row of the metrics of {len(runs)} runs "
            f"{runs[:5]} holds a {' or '.join(PERFORMANCE_METRICS)} value (empty metrics "
            "files, or every run non-finite from its first step)"
        )
    final = final_rows(metrics)
    bad = diverged(final)
    parts = []
    for metric in recorded:
        table = summarise(final.assign(**{metric: final[metric].where(~bad)}),
                          ["experiment", "run"], metric)  # fmt: skip
        table.insert(2, "metric", metric)
        # Diverged seeds count only where the experiment records the metric at all.
        records = metrics.groupby("experiment")[metric].apply(lambda s: s.notna().any())
        counted = final.assign(_d=bad & final["experiment"].map(records).to_numpy(dtype=bool))
        counts = counted.groupby(["experiment", "run"], sort=True)["_d"].sum().astype(int)
        table["diverged"] = counts.to_numpy()  # summarise groups the same way, sorted
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
    write_bytes(path, ("\n".join(lines) + "\n").encode())


def write_table(table: pd.DataFrame, csv: str | Path, md: str | Path, title: str) -> None:
    """CSV with every digit; Markdown with mean [95% CI] per metric column.

    A run whose every seed diverged shows "diverged"; the seeds column counts the diverged ones.
    """
    write_csv(table, csv)
    cells = [format_ci(*r) for r in table[["mean", "ci_low", "ci_high"]].to_numpy()]
    if "diverged" in table:
        all_diverged = (table["n"] == 0) & (table["diverged"] > 0)
        cells = ["diverged" if d else c for c, d in zip(cells, all_diverged, strict=True)]
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
    wide.insert(2, "seeds", seeds_column(table))
    write_markdown(wide, md, title, "Mean over seeds [95% t-interval].")


def seeds_column(table: pd.DataFrame) -> list[str]:
    """Seeds per experiment and run, e.g. "4" or "4 (2 diverged)"."""
    by_run = table.groupby(["experiment", "run"], sort=False)
    if "diverged" not in table:
        return [str(n) for n in by_run["n"].max()]
    seeds = (table["n"] + table["diverged"]).groupby([table.experiment, table.run], sort=False)
    return [
        f"{n} ({d} diverged)" if d else str(n)
        for n, d in zip(seeds.max(), by_run["diverged"].max(), strict=True)
    ]


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    """Every digit, written atomically: a killed job leaves no half-written table."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.9g")


def write_tail_index_table(table: pd.DataFrame, csv: str | Path, md: str | Path) -> None:
    """CSV with every digit; Markdown with α̂ and β̂ [95% CI] per layer and estimator."""
    write_csv(table, csv)
    shown = table[["experiment", "step", "quantity", "layer", "sample", "estimator", "n"]].copy()
    for par in ("alpha", "beta"):
        shown[par] = [
            format_ci(*r, digits=3) for r in table[[par, f"{par}_lo", f"{par}_hi"]].to_numpy()
        ]
    shown["skewness"] = table["skewness"].map("{:.3g}".format)
    shown["kurtosis"] = table["kurtosis"].map("{:.3g}".format)
    if "n_null" in table:  # the fits' Gaussian nulls (docs/noise.md), where a row has one
        for par, verdict in (("alpha", "heavy"), ("beta", "skewed")):
            cols = [f"null_{par}_med", f"null_{par}_lo", f"null_{par}_hi"]
            shown[f"null {par}"] = [format_ci(*r, digits=3) for r in table[cols].to_numpy()]
            shown[verdict] = table[verdict].map({True: "yes", False: "no"}).fillna("–")
    write_markdown(
        shown,
        md,
        "Tail index and skewness of the gradient noise",
        "Per-layer weight noise; samples: coords (one draw's live entries), draws (one "
        "coordinate across draws), standardized (pooled view: one draw over rank-1 scales), "
        "per_coordinate (each coordinate across draws, standardised). S1; α̂, β̂ [95% CI]; "
        "null: median [2.5%, 97.5%] of the matched Gaussian null; heavy / skewed: outside it.",
    )


Z95 = 1.959963984540054


def explicit_effect_table(metas: list[dict]) -> pd.DataFrame:
    """One row per dump: the Monte-Carlo explicit effect E[L~] - L [95% CI], R, and their ratio.

    R is the second-order Taylor term of the explicit effect; where the ratio is far from 1 the
    rest (e.g. the ReLU-kink term, of the same order sigma^2) matters as much as R does.
    """
    rows = []
    for meta in metas:
        eff = meta.get("explicit_effect")
        if eff is None:
            raise ValueError(
                f"noise dump of {meta.get('experiment')}/{meta.get('run')}/seed{meta.get('seed')}"
                f"/step{meta.get('step')} has no explicit_effect record: rerun dump_noise"
            )
        half = Z95 * eff["mc_effect_se"]
        r = eff["regulariser"]
        rows.append(
            {
                **{k: meta[k] for k in ("experiment", "run", "seed", "step")},
                "sigma": max(meta["sigma"]),
                "draws": eff["draws"],
                "clean_loss": eff["clean_loss"],
                "mc_effect": eff["mc_effect"],
                "mc_effect_lo": eff["mc_effect"] - half,
                "mc_effect_hi": eff["mc_effect"] + half,
                "regulariser": r,
                "ratio": eff["mc_effect"] / r if r > 0 else np.nan,
                "ratio_lo": (eff["mc_effect"] - half) / r if r > 0 else np.nan,
                "ratio_hi": (eff["mc_effect"] + half) / r if r > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows).sort_values(["experiment", "seed", "step"], ignore_index=True)


def write_explicit_effect_table(table: pd.DataFrame, csv: str | Path, md: str | Path) -> None:
    write_csv(table, csv)
    shown = table[["experiment", "run", "seed", "step", "sigma", "draws"]].copy()
    shown["E[L~] − L"] = [
        format_ci(*r, digits=4)
        for r in table[["mc_effect", "mc_effect_lo", "mc_effect_hi"]].to_numpy()
    ]
    shown["R"] = table["regulariser"].map("{:.4f}".format)
    shown["(E[L~] − L) / R"] = [
        format_ci(*r, digits=2) for r in table[["ratio", "ratio_lo", "ratio_hi"]].to_numpy()
    ]
    write_markdown(
        shown,
        md,
        "The explicit effect against R",
        "Monte-Carlo mean of L~ − L over the dump's draws [95% CI] on the dump's batch, the "
        "regulariser R (exact) and their ratio. R is the second-order Taylor term only: with "
        "ReLUs the kinks add a term of the same order σ², so a ratio far from 1 means the "
        "`explicit` run (L + R) does not train on the same mean objective as L~_M.",
    )

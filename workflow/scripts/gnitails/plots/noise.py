"""Gradient-noise figures: per-layer log-densities (fig_noise_hist, fig_forward_noise) and the
fitted tail index and skewness per layer (fig_tail_index), from stored dumps and fit tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gnitails.plots.style import apply_style, plt

BINS_PER_LOG_N = 5  # the authors' histogram resolution: 5 ln(n) bins over the sample's range


def log_density(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and log10 of the histogram density (empty bins dropped)."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    bins = max(int(BINS_PER_LOG_N * np.log(len(x))), 10)
    density, edges = np.histogram(x, bins=bins, density=True)
    centres = (edges[:-1] + edges[1:]) / 2
    keep = density > 0
    return centres[keep], np.log10(density[keep])


def stable_log_pdf(grid, alpha, beta, scale, loc_s1) -> np.ndarray:
    """log10 density of the fitted law (scipy's levy_stable, S1, its default)."""
    with np.errstate(divide="ignore"):
        return np.log10(stats.levy_stable.pdf(grid, alpha, beta, loc=loc_s1, scale=scale))


def _annotate(ax, lines: list[str]) -> None:
    ax.text(
        0.03,
        0.97,
        "\n".join(lines),
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize="x-small",
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
    )


def density_panel(ax, sample, fit: pd.Series | None, title: str) -> None:
    """Histogram log-density of `sample`, its moment-matched Gaussian and (if given) the
    fitted stable law, with skewness and excess kurtosis in a box."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    centres, logd = log_density(x)
    ax.plot(centres, logd, ".", ms=3, color="0.25", label="data")
    grid = np.linspace(centres.min(), centres.max(), 200)
    with np.errstate(divide="ignore"):
        gauss = np.log10(stats.norm.pdf(grid, x.mean(), x.std()))
    ax.plot(grid, gauss, "--", lw=1.2, label="Gaussian (moments)")
    lines = [f"skew = {stats.skew(x):.3g}", f"kurt = {stats.kurtosis(x):.3g}", f"n = {len(x)}"]
    if fit is not None and np.isfinite(fit["alpha"]):
        ax.plot(
            grid,
            stable_log_pdf(grid, fit["alpha"], fit["beta"], fit["scale"], fit["loc_s1"]),
            lw=1.2,
            label="fitted stable",
        )
        lines[:0] = [f"α = {fit['alpha']:.3f}", f"β = {fit['beta']:+.3f}"]
    ymin = logd.min() - 0.5
    ax.set_ylim(ymin, logd.max() + 0.5)
    ax.set_title(title, fontsize="small")
    ax.set_ylabel("log10 density")
    _annotate(ax, lines)


def density_grid(rows: list[list[tuple]], row_titles: list[str]):
    """A figure of density panels: rows[i] is a list of (sample, fit or None, title)."""
    apply_style()
    ncol = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(3.2 * ncol, 2.8 * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncol):
            ax = axes[i][j]
            if j >= len(row):
                ax.set_visible(False)
                continue
            density_panel(ax, *row[j])
            if j == 0:
                ax.set_ylabel(f"{row_titles[i]}\nlog10 density")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=3, fontsize="small", bbox_to_anchor=(0.5, -0.02)
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


SAMPLE_LABELS = {"coords": "pooled entries", "standardized": "standardised entries"}


def tail_index_frame(fits: pd.DataFrame, estimator: str = "ecf") -> pd.DataFrame:
    """The rows fig_tail_index draws: ECF fits of the per-layer weight noise Z, one draw's
    entries pooled as the authors did and standardised by their rank-1 scales."""
    keep = (fits["param"] == "weight") & (fits["quantity"] == "z_mc")
    keep &= fits["sample"].isin(list(SAMPLE_LABELS)) & (fits["estimator"] == estimator)
    return fits[keep].sort_values(["experiment", "sample", "step", "layer"])


def draw_tail_index(frame: pd.DataFrame, experiments: list[str]):
    """α̂ (top) and β̂ (bottom) with 95% CIs against layer, one series per sample and step."""
    apply_style()
    fig, axes = plt.subplots(
        2, len(experiments), figsize=(4.2 * len(experiments), 5.6), squeeze=False
    )
    markers = {"coords": "o", "standardized": "s"}
    for j, name in enumerate(experiments):
        sub = frame[frame["experiment"] == name]
        for (sample, step), series in sub.groupby(["sample", "step"], sort=True):
            label = f"{SAMPLE_LABELS[sample]}, step {step}"
            for i, par in enumerate(("alpha", "beta")):
                y = series[par].to_numpy()
                lo = np.nan_to_num(y - series[f"{par}_lo"].to_numpy())
                hi = np.nan_to_num(series[f"{par}_hi"].to_numpy() - y)
                axes[i][j].errorbar(
                    series["layer"],
                    y,
                    yerr=np.vstack([lo, hi]),
                    marker=markers[sample],
                    ms=4,
                    capsize=2,
                    lw=1,
                    label=label,
                )
        axes[0][j].axhline(2.0, color="0.5", lw=0.8, ls=":")
        axes[1][j].axhline(0.0, color="0.5", lw=0.8, ls=":")
        axes[0][j].set_ylim(0, 2.2)  # the parameter ranges: alpha in (0, 2], beta in [-1, 1]
        axes[1][j].set_ylim(-1.15, 1.15)
        axes[0][j].set_title(name)
        axes[0][j].set_ylabel("tail index α̂")
        axes[1][j].set_ylabel("skewness β̂")
        for i in (0, 1):
            axes[i][j].set_xlabel("layer")
            axes[i][j].xaxis.get_major_locator().set_params(integer=True)
        axes[0][j].legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def tail_index_table(fits: pd.DataFrame) -> pd.DataFrame:
    """Every estimator's α̂ and β̂ for the weight noise (Z, Z_R, minibatch), every sample."""
    keep = fits["param"] == "weight"
    cols = [
        "experiment",
        "step",
        "quantity",
        "layer",
        "sample",
        "estimator",
        "n",
        "alpha",
        "alpha_lo",
        "alpha_hi",
        "beta",
        "beta_lo",
        "beta_hi",
        "scale",
        "skewness",
        "kurtosis",
        "gof",
    ]
    order = ["experiment", "step", "quantity", "layer", "sample", "estimator"]
    return fits.loc[keep, cols].sort_values(order).reset_index(drop=True)


def density_rows(dump_paths, fits: pd.DataFrame, quantity: str):
    """Panels for density_grid: one row per dump, one panel per layer of `quantity`
    (``z_mc``: weight noise W_k; ``forward``: forward noise h̃_k − h_k), each with its ECF fit
    to the pooled live entries of the first draw."""
    from gnitails.noise.dump import coords_sample, layer_of, load_dump

    param = "activation" if quantity == "forward" else "weight"
    rows, titles = [], []
    for path in dump_paths:
        arrays, meta = load_dump(path)
        sel = fits[
            (fits["experiment"] == meta["experiment"])
            & (fits["step"] == meta["step"])
            & (fits["quantity"] == quantity)
            & (fits["param"] == param)
            & (fits["sample"] == "coords")
            & (fits["estimator"] == "ecf")
        ]
        keys = [k for k in arrays if layer_of(k)[:2] == (quantity, param)]
        row = []
        for key in sorted(keys, key=lambda k: layer_of(k)[2]):
            layer = layer_of(key)[2]
            x = coords_sample(arrays[key])
            x = x[x != 0]  # dead entries (no noise reaches them), as in the fits
            if x.size < 2 or x.min() == x.max():
                continue
            fit = sel[sel["layer"] == layer]
            name = f"h{layer}" if quantity == "forward" else f"W{layer}"
            row.append((x, fit.iloc[0] if len(fit) else None, name))
        rows.append(row)
        titles.append(f"{meta['experiment']}, step {meta['step']}")
    return rows, titles

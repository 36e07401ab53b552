"""Gradient-noise figures: per-layer log-densities (fig_noise_hist, fig_forward_noise) and the
fitted tail index and skewness per layer against their Gaussian nulls (fig_tail_index), from
stored dumps and fit tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gnitails.plots.style import apply_style, plt

BINS_PER_LOG_N = 5  # the authors' histogram resolution: 5 ln(n) bins over the sample's range
FEW_POINTS = 100  # a density panel with fewer points is flagged: its tails are a handful
GRID = 200


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


def mixture_log_pdf(grid, centres, scales) -> np.ndarray:
    """log10 density of the equal-weight Gaussian mixture sum_j N(centre_j, scale_j^2) / p:
    what pooling Gaussian coordinates of these centres and scales gives."""
    grid = np.asarray(grid, dtype=np.float64)
    c, s = np.asarray(centres, np.float64), np.asarray(scales, np.float64)
    dens = np.zeros_like(grid)
    for i in range(0, c.size, 4096):  # bounded temporaries for layers of many coordinates
        z = (grid[:, None] - c[None, i : i + 4096]) / s[None, i : i + 4096]
        dens += (np.exp(-0.5 * z**2) / s[None, i : i + 4096]).sum(axis=1)
    with np.errstate(divide="ignore"):
        return np.log10(dens / (c.size * np.sqrt(2 * np.pi)))


def panel_curves(sample, mixture) -> pd.DataFrame:
    """The numbers a density panel draws: histogram log-density at the bin centres, and the
    moment-matched Gaussian and (if given) the per-coordinate Gaussian mixture on a grid."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    centres, logd = log_density(x)
    grid = np.linspace(centres.min(), centres.max(), GRID)
    with np.errstate(divide="ignore"):
        gauss = np.log10(stats.norm.pdf(grid, x.mean(), x.std()))
    parts = [
        pd.DataFrame({"curve": "data", "x": centres, "log10_density": logd}),
        pd.DataFrame({"curve": "gaussian", "x": grid, "log10_density": gauss}),
    ]
    if mixture is not None:
        mix = mixture_log_pdf(grid, *mixture)
        parts.append(pd.DataFrame({"curve": "mixture", "x": grid, "log10_density": mix}))
    return pd.concat(parts, ignore_index=True)


CURVE_STYLE = {
    "data": dict(ls="none", marker=".", ms=3, color="0.25", label="data (histogram)"),
    "gaussian": dict(ls="--", lw=1.2, label="Gaussian, same mean and variance"),
    "mixture": dict(ls="-", lw=1.2, label="Gaussian coordinates, scales from the K draws"),
}  # fmt: skip


def density_panel(ax, sample, mixture, title: str, xlabel: str = "noise value") -> pd.DataFrame:
    """Histogram log-density of `sample` with its moment-matched Gaussian and the Gaussian
    scale mixture of its coordinates; sample size, skewness and excess kurtosis in the title
    (off the data), a panel of fewer than FEW_POINTS points flagged. Returns the curves."""
    x = np.asarray(sample, dtype=np.float64).ravel()
    curves = panel_curves(x, mixture)
    for name, c in curves.groupby("curve", sort=False):
        ax.plot(c["x"], c["log10_density"], **CURVE_STYLE[name])
    data = curves[curves["curve"] == "data"]["log10_density"]
    ax.set_ylim(data.min() - 0.5, data.max() + 0.5)
    few = x.size < FEW_POINTS
    ax.set_title(
        f"{title}: n = {x.size}{' (few points!)' if few else ''}\n"
        f"skewness {stats.skew(x):.2g}, excess kurtosis {stats.kurtosis(x):.3g}",
        fontsize="small",
        color="firebrick" if few else "black",
    )
    if few:
        ax.set_facecolor("#fbeeee")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("log10 density")
    return curves


MAX_COLUMNS = 3  # panels per figure row: wider figures are unreadable at report width


def density_grid(rows: list[list[tuple]], row_titles: list[str], xlabel: str = "noise value"):
    """A figure of density panels: rows[i] is a list of (sample, mixture or None, title),
    wrapped to at most MAX_COLUMNS panels per figure row. Returns the figure and the plotted
    numbers (one frame, columns row, panel, curve, x, log10_density)."""
    apply_style()
    chunks = [  # (row index, its panels on one figure row)
        (i, row[start : start + MAX_COLUMNS])
        for i, row in enumerate(rows)
        for start in range(0, max(len(row), 1), MAX_COLUMNS)
    ]
    ncol = max(len(panels_) for _, panels_ in chunks)
    fig, axes = plt.subplots(
        len(chunks), ncol, figsize=(3.4 * ncol, 3.0 * len(chunks)), squeeze=False
    )
    frames = []
    for r, (i, chunk) in enumerate(chunks):
        for j in range(ncol):
            ax = axes[r][j]
            if j >= len(chunk):
                ax.set_visible(False)
                continue
            curves = density_panel(ax, *chunk[j], xlabel=xlabel)
            frames.append(curves.assign(row=row_titles[i], panel=chunk[j][2]))
            if j == 0:
                ax.set_ylabel(f"{row_titles[i]}\nlog10 density")
    handles, labels = [], []
    for ax in axes.flat:  # every curve that some panel drew, once
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize="small")
    fig.tight_layout(rect=(0, 0.06 / len(chunks) ** 0.5, 1, 1))
    cols = ["row", "panel", "curve", "x", "log10_density"]
    return fig, pd.concat(frames, ignore_index=True)[cols]


def coordinate_mixture(arr: np.ndarray, live: np.ndarray):
    """(centres, scales) of the coordinates ``live`` (flat mask) across the K draws of
    ``arr``: medians and 1.4826 MADs, coordinates of zero scale left out."""
    from gnitails.scales import MAD_TO_SD

    flat = np.asarray(arr, dtype=np.float64).reshape(arr.shape[0], -1)[:, live]
    centre = np.median(flat, axis=0)
    scale = MAD_TO_SD * np.median(np.abs(flat - centre), axis=0)
    return centre[scale > 0], scale[scale > 0]


def density_rows(dump_paths, quantity: str):
    """Panels for density_grid: one row per dump, one panel per layer of `quantity`
    (``z_mc``: weight noise W_k; ``forward``: forward noise h̃_k − h_k): the live entries of
    the first draw pooled, as the authors did, with the Gaussian scale mixture those
    coordinates would give if each were Gaussian with its scale across the K draws. (A stable
    law fitted to these pooled entries describes that mixture, e.g. α̂ ≈ 0.1-0.4: it is in
    the fits table, sample ``coords``, and not drawn.)"""
    from gnitails.noise.dumpfile import layer_of, load_dump

    param = "activation" if quantity == "forward" else "weight"
    rows, titles = [], []
    for path in dump_paths:
        arrays, meta = load_dump(path)
        keys = [k for k in arrays if layer_of(k)[:2] == (quantity, param)]
        row = []
        for key in sorted(keys, key=lambda k: layer_of(k)[2]):
            layer = layer_of(key)[2]
            first = arrays[key][0].reshape(-1)
            live = first != 0  # dead entries (no noise reaches them), as in the fits
            x = first[live]
            if x.size < 2 or x.min() == x.max():
                continue
            mixture = coordinate_mixture(arrays[key], live) if len(arrays[key]) > 1 else None
            name = f"h{layer}" if quantity == "forward" else f"W{layer}"
            row.append((x, mixture, name))
        rows.append(row)
        titles.append(f"{meta['experiment']}, step {meta['step']}")
    return rows, titles


# --------------------------------------------------------------------------- fig_tail_index

VIEW_LABELS = {
    "standardized": "pooled view: one draw's entries / r_i c_j",
    "per_coordinate": "per-coordinate view: each weight across draws",
}
VIEW_MARKERS = {"standardized": "s", "per_coordinate": "o"}
VIEW_OFFSET = {"standardized": -0.2, "per_coordinate": 0.2}
PARAM_RANGE = {"alpha": (0.0, 2.0), "beta": (-1.0, 1.0)}
NULL_COLUMNS = [
    "n_null", "null_alpha_med", "null_alpha_lo", "null_alpha_hi", "null_beta_med",
    "null_beta_lo", "null_beta_hi", "p_alpha", "p_beta", "heavy", "skewed",
]  # fmt: skip


def tail_index_frame(fits: pd.DataFrame, estimator: str = "ecf") -> pd.DataFrame:
    """The rows fig_tail_index draws: ECF fits of the per-layer weight noise Z in its two
    views (pooled standardised entries, per coordinate across draws), with their nulls."""
    keep = (fits["param"] == "weight") & (fits["quantity"] == "z_mc")
    keep &= fits["sample"].isin(list(VIEW_LABELS)) & (fits["estimator"] == estimator)
    return fits[keep].sort_values(["experiment", "sample", "step", "layer"])


def _tail_axis(ax, series: pd.DataFrame, par: str, x: np.ndarray, color, marker: str) -> None:
    """One view and step: the null's 2.5-97.5% band and median (grey bar and tick), the
    estimate with its 95% interval clipped to the parameter range, filled when it leaves the
    null band (the verdict), open otherwise. No lines between layers: they are categories."""
    lo_par, hi_par = PARAM_RANGE[par]
    y = series[par].to_numpy(float)
    lo = np.clip(series[f"{par}_lo"].to_numpy(float), lo_par, hi_par)
    hi = np.clip(series[f"{par}_hi"].to_numpy(float), lo_par, hi_par)
    lo, hi = np.where(np.isfinite(lo), lo, y), np.where(np.isfinite(hi), hi, y)
    if f"null_{par}_lo" in series and series[f"null_{par}_lo"].notna().any():
        n_lo = series[f"null_{par}_lo"].to_numpy(float)
        n_hi = series[f"null_{par}_hi"].to_numpy(float)
        ax.bar(x, n_hi - n_lo, bottom=n_lo, width=0.14, color="0.82", zorder=1, lw=0)
        ax.scatter(x, series[f"null_{par}_med"], marker="_", s=90, color="0.45", zorder=2)
    verdict = series["heavy" if par == "alpha" else "skewed"] if "heavy" in series else None
    hit = np.zeros(len(y), bool) if verdict is None else verdict.fillna(False).to_numpy(bool)
    ax.errorbar(x, y, yerr=np.vstack([y - lo, hi - y]), fmt="none", ecolor=color, lw=1,
                capsize=2, zorder=3)  # fmt: skip
    ax.scatter(x[hit], y[hit], marker=marker, s=28, color=color, zorder=4)
    ax.scatter(x[~hit], y[~hit], marker=marker, s=28, facecolors="white", edgecolors=color,
               zorder=4)  # fmt: skip


def draw_tail_index(frame: pd.DataFrame, experiments: list[str]):
    """α̂ (top) and β̂ (bottom) per layer, each view and step side by side, against its
    null band; intervals clipped to the parameter range, axes sized to show them whole."""
    apply_style()
    fig, axes = plt.subplots(
        2, len(experiments), figsize=(4.6 * len(experiments), 6.2), squeeze=False
    )
    steps = sorted(frame["step"].unique())
    colors = dict(zip(steps, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    spread = np.linspace(-0.07, 0.07, len(steps)) if len(steps) > 1 else [0.0]
    for j, name in enumerate(experiments):
        sub = frame[frame["experiment"] == name]
        layers = sorted(sub["layer"].unique())
        for (sample, step), series in sub.groupby(["sample", "step"], sort=True):
            x = series["layer"].to_numpy(float) + VIEW_OFFSET[sample]
            x += spread[steps.index(step)]
            for i, par in enumerate(("alpha", "beta")):
                _tail_axis(axes[i][j], series, par, x, colors[step], VIEW_MARKERS[sample])
        lows = [sub[c].min() for c in ("alpha", "alpha_lo", "null_alpha_lo") if c in sub]
        bottom = max(0.0, np.nanmin(lows + [1.9]) - 0.05) if len(sub) else 0.0
        axes[0][j].set_ylim(bottom, 2.0 + 0.05 * (2.0 - bottom))
        axes[1][j].set_ylim(-1.08, 1.08)
        axes[0][j].axhline(2.0, color="0.5", lw=0.8, ls=":")
        axes[1][j].axhline(0.0, color="0.5", lw=0.8, ls=":")
        axes[0][j].set_title(name)
        axes[0][j].set_ylabel("tail index α̂ (2: Gaussian)")
        axes[1][j].set_ylabel("skewness β̂ (S1)")
        for i in (0, 1):
            axes[i][j].set_xticks(layers, [f"W{k}" for k in layers])
            axes[i][j].set_xlim(min(layers, default=1) - 0.5, max(layers, default=1) + 0.5)
            axes[i][j].grid(axis="x", visible=False)
        axes[1][j].set_xlabel("weight matrix (layer)")
    fig.legend(
        handles=_tail_legend(steps, colors),
        loc="lower center",
        ncol=3,
        fontsize="small",
    )
    fig.tight_layout(rect=(0, 0.11, 1, 1))
    return fig


def _tail_legend(steps, colors) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], ls="none", marker=VIEW_MARKERS[s], color="0.3", label=lab)
        for s, lab in VIEW_LABELS.items()
    ]
    handles += [
        Line2D([], [], ls="none", color=colors[s], marker="o", label=f"step {s}") for s in steps
    ]
    handles += [
        Patch(color="0.82", label="Gaussian null, 2.5–97.5% (tick: median)"),
        Line2D([], [], ls="none", marker="o", color="0.3", label="filled: outside the null"),
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            mfc="white",
            color="0.3",
            label="open: inside the null band",
        ),
        Line2D([], [], color="0.3", label="95% CI of the fit, clipped to the range"),
    ]
    return handles


def tail_index_table(fits: pd.DataFrame) -> pd.DataFrame:
    """Every estimator's α̂ and β̂ for the weight noise (Z, Z_R, minibatch), every sample, with
    the null columns where the fit has a null."""
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
    ] + [c for c in NULL_COLUMNS if c in fits]
    order = ["experiment", "step", "quantity", "layer", "sample", "estimator"]
    return fits.loc[keep, cols].sort_values(order).reset_index(drop=True)

"""The shared figure style and byte-stable saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: GUI backends crash in Snakemake worker threads

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from gnitails.atomic import atomic_path  # noqa: E402

PANEL_SIZE = (4.2, 3.2)  # inches per panel
DPI = 150


def apply_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "savefig.bbox": "tight"})
    # Fixed hash salt and no timestamps: the same data give the same bytes.
    plt.rcParams["svg.hashsalt"] = "gnitails"


def panels(n: int, **kwargs):
    """A row of `n` panels in the shared size."""
    apply_style()
    width, height = PANEL_SIZE
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, **kwargs)
    return fig, list(axes[0])


def save_figure(fig, *paths: str | Path) -> None:
    """Save to each path (format from the suffix) without dates or version stamps.

    Each file is written atomically: a job killed while saving leaves no truncated figure.
    """
    for path in paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".")
        metadata = {
            "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
            "png": {"Software": None},
        }.get(fmt, {})
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata)
    plt.close(fig)

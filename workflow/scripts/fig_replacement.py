"""Rule fig_replacement: M = 1, the largest M, the arms' control, and each replacement arm.

Median and quartiles over every seed (a diverged seed counts as +inf), so no seed is dropped.
"""

from pathlib import Path

from gnitails.plots.curves import draw_quantile_curves, quantile_curves
from gnitails.plots.style import save_figure
from gnitails.plots.tables import write_csv
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    out = snakemake.output
    curves = quantile_curves(
        train_metrics(snakemake.input.metrics), dict(snakemake.params.runs), "step", "train_loss"
    )
    Path(out.data).parent.mkdir(parents=True, exist_ok=True)
    write_csv(curves, out.data)
    save_figure(draw_quantile_curves(curves, "step", "train_loss"), out.pdf, out.png)
    log.info("fig_replacement: %d curves", curves.groupby(["experiment", "run"]).ngroups)

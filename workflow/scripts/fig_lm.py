"""Rule fig_lm: clean training loss vs step for each M of the L~_M experiments."""

from gnitails.plots.lm import draw_lm, lm_curves
from gnitails.plots.style import save_figure
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    curves = lm_curves(train_metrics(snakemake.input.metrics))
    curves.to_csv(snakemake.output.data, index=False, float_format="%.9g")
    save_figure(
        draw_lm(curves, snakemake.params.experiments), snakemake.output.pdf, snakemake.output.png
    )
    log.info("fig_lm: %d curves", curves.groupby(["experiment", "m"]).ngroups)

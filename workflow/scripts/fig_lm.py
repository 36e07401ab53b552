"""Rule fig_lm: clean training loss vs step for each M of the L~_M experiments."""

from gnitails.plots.curves import loss_figure
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    out = snakemake.output
    curves = loss_figure(
        train_metrics(snakemake.input.metrics),
        snakemake.params.experiments,
        "step",
        "train_loss",
        None,
        out.pdf,
        out.png,
        out.data,
    )
    log.info("fig_lm: %d curves", curves.groupby(["experiment", "run"]).ngroups)

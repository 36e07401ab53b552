"""Rule fig_replacement: M = 1, M = 16, and M = 16 plus fitted stable or Gaussian noise."""

from gnitails.plots.curves import loss_figure
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

RUNS = ["m1", "m16", "replace_s1", "replace_s0", "replace_gauss"]

with rule_logging(snakemake) as log:
    out = snakemake.output
    curves = loss_figure(
        train_metrics(snakemake.input.metrics),
        snakemake.params.experiments,
        "step",
        "train_loss",
        RUNS,
        out.pdf,
        out.png,
        out.data,
    )
    log.info("fig_replacement: %d curves", curves.groupby(["experiment", "run"]).ngroups)

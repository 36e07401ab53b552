"""Rule fig_r_vs_gni: clean test loss vs epoch without noise, with GNIs, and with R instead."""

from gnitails.plots.curves import loss_figure
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

RUNS = ["baseline", "gni", "explicit"]

with rule_logging(snakemake) as log:
    out = snakemake.output
    curves = loss_figure(
        train_metrics(snakemake.input.metrics),
        snakemake.params.experiments,
        "epoch",
        "test_loss",
        RUNS,
        out.pdf,
        out.png,
        out.data,
    )
    log.info("fig_r_vs_gni: %d curves", curves.groupby(["experiment", "run"]).ngroups)

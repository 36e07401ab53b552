"""Rule table_performance: final train/test loss and accuracy of every run, over seeds."""

from gnitails.plots.tables import performance_table, write_table
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    table = performance_table(train_metrics(snakemake.input.metrics))
    write_table(
        table, snakemake.output.csv, snakemake.output.md, "Final performance of every training run"
    )
    log.info("table_performance: %d rows", len(table))

"""Rule table_performance: final train/test loss and accuracy of every run, over seeds."""

from gnitails.plots.html import write_html
from gnitails.plots.tables import performance_table, write_table
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    table = performance_table(train_metrics(snakemake.input.metrics))
    write_table(
        table, snakemake.output.csv, snakemake.output.md, "Final performance of every training run"
    )
    write_html(snakemake.output.md, snakemake.output.html)  # shown in the report
    log.info("table_performance: %d rows", len(table))

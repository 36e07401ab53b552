"""Rule table_tail_index: every estimator's α̂ and β̂ of the weight noise per layer."""

import pandas as pd

from gnitails.plots.html import write_html
from gnitails.plots.noise import tail_index_table
from gnitails.plots.tables import write_tail_index_table
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    fits = pd.concat([pd.read_parquet(p) for p in snakemake.input.fits], ignore_index=True)
    table = tail_index_table(fits)
    write_tail_index_table(table, snakemake.output.csv, snakemake.output.md)
    write_html(snakemake.output.md, snakemake.output.html)  # shown in the report
    log.info("table_tail_index: %d rows", len(table))

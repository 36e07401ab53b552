"""Rule table_explicit_effect: the Monte-Carlo explicit effect of GNIs against R, per dump."""

from gnitails.noise.dumpfile import load_dump
from gnitails.plots.html import write_html
from gnitails.plots.tables import explicit_effect_table, write_explicit_effect_table
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    table = explicit_effect_table([load_dump(p)[1] for p in snakemake.input.dumps])
    write_explicit_effect_table(table, snakemake.output.csv, snakemake.output.md)
    write_html(snakemake.output.md, snakemake.output.html)  # shown in the report
    log.info("table_explicit_effect: %d dumps", len(table))

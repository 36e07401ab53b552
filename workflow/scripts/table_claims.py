"""Rule table_claims: each claim of the paper with the measured evidence and a verdict."""

import pandas as pd

from gnitails.claims import all_claims, write_claims
from gnitails.plots.html import write_html
from gnitails.results import train_metrics
from gnitails.runlog import rule_logging


def concat(paths):
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True) if paths else None


with rule_logging(snakemake) as log:
    inp = snakemake.input
    metrics = train_metrics(inp.metrics) if inp.metrics else None
    table = all_claims(
        snakemake.params.figures,
        metrics,
        concat(inp.fits),
        concat(inp.sde),
        snakemake.params.experiments,
    )
    write_claims(table, snakemake.output.csv, snakemake.output.md)
    write_html(snakemake.output.md, snakemake.output.html)  # shown in the report
    for row in table.itertuples():
        log.info("%s (%s): %s", row.claim, row.experiment, row.verdict)

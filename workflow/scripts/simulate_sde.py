"""Rule simulate_sde: one `sde:` study block -> results/sde/{study}.parquet."""

from gnitails.runlog import rule_logging
from gnitails.sde import write_study

with rule_logging(snakemake) as log:
    name = snakemake.wildcards.study
    df = write_study(
        snakemake.params.spec,
        name,
        snakemake.output.table,
        threads=snakemake.threads,
        progress=log.info,
    )
    log.info("%s: %d rows written to %s", name, len(df), snakemake.output.table)

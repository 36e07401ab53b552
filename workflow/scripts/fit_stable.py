"""Rule fit_stable: stable fits of every sample of one run's noise dumps (docs/noise.md)."""

from gnitails.noise import fit_dumps, save_fits
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    options = snakemake.params.options
    table = fit_dumps(
        snakemake.input.dumps,
        options["estimators"],
        n_boot=options["n_boot"],
        n_null=options["n_null"],
    )
    save_fits(table, snakemake.output.fits)
    log.info("%s: %d fits", snakemake.output.fits, len(table))

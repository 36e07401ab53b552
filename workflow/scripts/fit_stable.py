"""Rule fit_stable: stable fits of every sample of one run's noise dumps (docs/noise.md)."""

from pathlib import Path

from gnitails.noise import fit_dumps
from gnitails.noise.fits import N_NULL
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    options = snakemake.params.options
    table = fit_dumps(
        snakemake.input.dumps,
        options["estimators"],
        n_boot=options["n_boot"],
        n_null=options.get("n_null", N_NULL),
    )
    Path(snakemake.output.fits).parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(snakemake.output.fits, index=False)
    log.info("%s: %d fits", snakemake.output.fits, len(table))

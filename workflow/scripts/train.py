"""Rule train: every seed of one run of one experiment (each resumes from its saved state)."""

import os
from pathlib import Path

from gnitails.cpualloc import retain_freed_memory
from gnitails.data import load_prepared
from gnitails.runlog import rule_logging
from gnitails.training import train_runs

# This process only trains: keep freed memory rather than page-faulting it back every step.
retain_freed_memory()

with rule_logging(snakemake) as log:
    wc = snakemake.wildcards
    train_runs(
        snakemake.params.experiment,
        load_prepared(snakemake.input.data),
        run=wc.run,
        out_dir=Path(snakemake.output.metrics).parent,
        state_dir=snakemake.params.state_dir,
        snapshot_steps=snakemake.params.snapshot_steps,
        device=os.environ.get("GNITAILS_DEVICE", "auto"),
        threads=snakemake.threads,
        log=log.info,
        where=f"experiments.{wc.experiment}",
    )

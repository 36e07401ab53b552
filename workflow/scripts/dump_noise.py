"""Rule dump_noise: gradient and forward noise of one training snapshot (docs/noise.md)."""

import os

from gnitails.data import load_prepared
from gnitails.noise import dump_snapshot
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    wc = snakemake.wildcards
    ids = {"experiment": wc.experiment, "run": wc.run, "seed": int(wc.seed), "step": int(wc.step)}
    meta = dump_snapshot(
        snakemake.params.experiment,
        load_prepared(snakemake.input.data),
        snakemake.input.models,
        snakemake.output.dump,
        ids=ids,
        device=os.environ.get("GNITAILS_DEVICE", "auto"),
        threads=snakemake.threads,
    )
    log.info(
        "%s: K = %d draws, M = %d, batch %d",
        snakemake.output.dump,
        meta["draws"],
        meta["m"],
        meta["batch"],
    )

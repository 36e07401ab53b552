"""Rule download_dataset: fetch and checksum the raw files of one downloadable source."""

from pathlib import Path

from gnitails.data.raw import download_source
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    source = snakemake.wildcards.source
    root = Path(snakemake.output.manifest).parent
    log.info("making sure the raw files of %s are in %s", source, root)
    download_source(source, root)
    log.info("verified %s", snakemake.output.manifest)

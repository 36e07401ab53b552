"""Rule download_raw: fetch (or verify, if present) one raw file of a downloadable source."""

from pathlib import Path

from gnitails.data.raw import fetch_raw, raw_file
from gnitails.runlog import rule_logging

with rule_logging(snakemake) as log:
    source, path = snakemake.wildcards.source, Path(snakemake.output.raw)
    log.info("making sure %s of %s is in %s", path.name, source, path.parent)
    fetch_raw(source, raw_file(source, path.name), path.parent)
    log.info("verified %s", path)

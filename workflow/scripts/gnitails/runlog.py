"""Logging for rule scripts: everything to the rule's `log:` file; on the terminal only warnings,
errors and one line per finished job (progress of 25 parallel jobs would bury what matters)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gnitails.config import ConfigError
from gnitails.data.errors import DataError
from gnitails.errors import InputFileError, TrainingDivergedError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EXPECTED = (InputFileError, ConfigError, DataError, TrainingDivergedError)


@contextmanager
def rule_logging(snakemake, name: str = "gnitails") -> Iterator[logging.Logger]:
    """Log to `snakemake.log[0]` (if any: stderr then gets warnings and errors only, plus one
    line when the job ends) or else to stderr; record an exception before re-raising."""
    stream = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [stream]
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
        stream.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format=FORMAT, handlers=handlers, force=True)
    logger = logging.getLogger(name)
    start = time.perf_counter()
    try:
        yield logger
    except EXPECTED as exc:  # the message names the key or file: no traceback to read
        logger.error("%s failed: %s", snakemake.rule, exc)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("%s failed", snakemake.rule)
        raise
    if snakemake.log:
        wildcards = snakemake.wildcards  # Snakemake's Namedlist (tests: a namespace)
        named = wildcards.items() if hasattr(wildcards, "items") else vars(wildcards).items()
        job = [snakemake.rule, *(f"{k}={v}" for k, v in named)]
        took = time.perf_counter() - start
        print(f"{' '.join(job)}: done in {took:.0f} s (log: {snakemake.log[0]})", file=sys.stderr)

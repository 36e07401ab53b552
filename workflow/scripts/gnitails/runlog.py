"""Logging for rule scripts: to the rule's `log:` file and to stderr, failures included."""

from __future__ import annotations

import logging
import sys
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
    """Log to `snakemake.log[0]` (if any) and stderr; record an exception before re-raising."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format=FORMAT, handlers=handlers, force=True)
    logger = logging.getLogger(name)
    try:
        yield logger
    except EXPECTED as exc:  # the message names the key or file: no traceback to read
        logger.error("%s failed: %s", snakemake.rule, exc)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("%s failed", snakemake.rule)
        raise

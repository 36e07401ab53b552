"""Errors whose message is the whole story: rule scripts log them as one line, no traceback."""

from __future__ import annotations


class InputFileError(ValueError):
    """A file a stage reads is missing, truncated, not what it should be, or holds non-finite
    values; the message names the file, what is wrong and how to rebuild it."""


class TrainingDivergedError(RuntimeError):
    """The clean training loss of a run that is not meant to diverge became non-finite."""


def rebuild_hint(path) -> str:
    """The command that rebuilds one pipeline output."""
    return f"rebuild it with: snakemake --cores 1 --forcerun {path}"

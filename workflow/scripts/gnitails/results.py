"""Reading the pipeline's stored results back, keyed by the wildcards in their paths."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from gnitails.runs import RunSpec

TRAIN_RUN = re.compile(r"train/(?P<experiment>[^/]+)/(?P<run>[^/]+)/metrics\.parquet$")


def train_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """All rows of the given runs' metrics.parquet files, with experiment, run, rule, m and
    seed first."""
    frames = []
    for path in paths:
        match = TRAIN_RUN.search(Path(path).as_posix())
        if not match:
            raise ValueError(f"{path} is not a results/train/{{experiment}}/{{run}} metrics file")
        run = RunSpec.parse(match["run"])
        frame = pd.read_parquet(path)
        seeds = frame.pop("seed")
        frame.insert(0, "seed", seeds)
        frame.insert(0, "m", run.m)
        frame.insert(0, "rule", run.rule)
        frame.insert(0, "run", run.name)
        frame.insert(0, "experiment", match["experiment"])
        frames.append(frame)
    if not frames:
        raise ValueError("no metrics files given")
    return pd.concat(frames, ignore_index=True)

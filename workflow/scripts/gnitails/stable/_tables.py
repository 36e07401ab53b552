"""The generated tables ``gnitails.stable`` ships as package data (``*.npz`` next to this file).

``tools/make_interval_table.py`` and ``tools/make_stable_tables.py`` write them with
:func:`save`; each file holds its arrays and ``ABOUT``, a note on how it was made.
Stored as binary arrays rather than Python literals: exact, small, and read with
``importlib.resources``, so an installed wheel finds them as the checkout does.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np


@cache
def load(name: str) -> dict[str, np.ndarray]:
    """The arrays of table ``name`` (e.g. ``"quantile_table"``), read once and read-only
    (they are shared by every caller)."""
    with (resources.files(__package__) / f"{name}.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    for arr in arrays.values():
        arr.flags.writeable = False
    return arrays


def save(path: str | Path, about: str, **arrays) -> None:
    """Write a table for :func:`load` (the generators' one way to write one)."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    np.savez_compressed(path, ABOUT=np.array(about), **arrays)
    print("wrote", path)

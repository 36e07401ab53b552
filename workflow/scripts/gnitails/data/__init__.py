"""Datasets: generation, download, reading raw formats, and the one prepared format.

Every source ends as ``results/data/{dataset}.npz`` (see :mod:`gnitails.data.prepared`);
training code only ever reads that file.
"""

from gnitails.data.errors import DataError
from gnitails.data.prepare import prepare_dataset
from gnitails.data.prepared import Prepared, load_prepared, save_prepared

__all__ = ["DataError", "Prepared", "load_prepared", "prepare_dataset", "save_prepared"]

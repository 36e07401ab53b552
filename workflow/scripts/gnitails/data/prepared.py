"""The prepared dataset format: one ``.npz`` with train/test arrays and JSON metadata.

Keys: ``x_train``, ``y_train``, ``x_test``, ``y_test`` and ``meta`` (a JSON string). Inputs are
float32; targets are float32 (regression, N x output_dim) or int64 class labels (N,). Images
keep their shape N x C x H x W; models flatten what they need.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gnitails.atomic import atomic_path
from gnitails.data.errors import DataError

ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")
TASKS = ("regression", "classification")


@dataclass(frozen=True)
class Prepared:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.meta["task"]

    def check(self, where: str = "dataset") -> Prepared:
        """Raise DataError unless shapes, dtypes and metadata are consistent."""
        if self.meta.get("task") not in TASKS:
            raise DataError(
                f"{where}: meta.task must be one of {TASKS}, got {self.meta.get('task')!r}"
            )
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.float32:
                raise DataError(f"{where}: x_{split} must be float32, got {x.dtype}")
            if len(x) != len(y) or len(x) == 0:
                raise DataError(f"{where}: x_{split} has {len(x)} rows but y_{split} has {len(y)}")
            if not np.isfinite(x).all():
                raise DataError(f"{where}: x_{split} contains NaN or inf")
            if self.task == "classification" and (y.dtype != np.int64 or y.ndim != 1):
                raise DataError(
                    f"{where}: y_{split} must be 1-D int64 labels, got {y.dtype} {y.shape}"
                )
            if self.task == "regression" and (y.dtype != np.float32 or y.ndim != 2):
                raise DataError(f"{where}: y_{split} must be 2-D float32, got {y.dtype} {y.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(
                f"{where}: train inputs {self.x_train.shape[1:]} and test inputs "
                f"{self.x_test.shape[1:]} differ in shape"
            )
        return self


def save_prepared(path: str | Path, data: Prepared) -> None:
    """Write atomically: a crash never leaves a half-written file under the final name."""
    path = Path(path)
    data.check(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(data, k) for k in ARRAY_KEYS}
    meta = np.array(json.dumps(data.meta, sort_keys=True))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, meta=meta, **arrays)


def load_prepared(path: str | Path) -> Prepared:
    """Read and check a prepared file; a corrupt or truncated file gets a DataError naming it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"prepared dataset {path} does not exist (run the prepare_dataset rule)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in (*ARRAY_KEYS, "meta") if k not in npz.files]
            if missing:
                raise DataError(f"{path} lacks the arrays {missing}; it is not a prepared dataset")
            arrays = {k: npz[k] for k in ARRAY_KEYS}
            meta = json.loads(str(npz["meta"]))
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"{path} is corrupt or truncated ({type(exc).__name__}: {exc}); delete it and rerun"
        ) from exc
    return Prepared(meta=meta, **arrays).check(str(path))

"""scikit-learn's bundled 8x8 handwritten digits: the offline stand-in for MNIST."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from gnitails.data.prepared import Prepared

PIXEL_MAX = 16.0  # the bundled images hold integer intensities 0..16


def make_digits(*, seed: int, test_fraction: float = 0.25) -> Prepared:
    bunch = load_digits()
    x = (bunch.images / PIXEL_MAX).astype(np.float32)[:, None, :, :]  # N x 1 x 8 x 8
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    meta = {
        "source": "digits",
        "task": "classification",
        "n_classes": 10,
        "seed": seed,
        "test_fraction": test_fraction,
    }
    return Prepared(x_train, y_train, x_test, y_test, meta)

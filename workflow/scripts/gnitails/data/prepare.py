"""Turn one `datasets:` config entry into the prepared format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gnitails.data.errors import DataError
from gnitails.data.prepared import Prepared
from gnitails.data.raw import verified_files
from gnitails.data.readers import read_cifar10, read_mnist, read_svhn
from gnitails.data.sinusoids import make_sinusoids

DOWNLOADED = ("mnist", "cifar10", "svhn")
GENERATED = ("sinusoids", "digits")


def needs_download(source: str) -> bool:
    return source in DOWNLOADED


def _subset(x, y, size, rng, key: str):
    if size is None:
        return x, y
    if size > len(x):
        raise DataError(f"{key}: asks for {size} examples but only {len(x)} exist")
    idx = np.sort(rng.choice(len(x), size=size, replace=False))
    return x[idx], y[idx]


def _read_downloaded(source: str, manifest: Path):
    files = verified_files(manifest)
    if source == "mnist":
        return read_mnist(files, "train"), read_mnist(files, "test")
    if source == "cifar10":
        archive = files["cifar-10-python.tar.gz"]
        return read_cifar10(archive, "train"), read_cifar10(archive, "test")
    return read_svhn(files["train_32x32.mat"]), read_svhn(files["test_32x32.mat"])


def prepare_dataset(name: str, spec: dict, manifest: str | Path | None = None) -> Prepared:
    """Build dataset `name` from its validated config entry `spec`.

    Downloaded sources need the `manifest` written by the download step; their pixels are
    scaled to [0, 1].
    """
    source, seed = spec["source"], spec["seed"]
    rng = np.random.default_rng(seed)
    if source == "sinusoids":
        params = {k: v for k, v in spec.items() if k != "source"}
        data = make_sinusoids(**params)
    elif source == "digits":
        from gnitails.data.digits import make_digits  # scikit-learn: only when needed

        data = make_digits(seed=seed, test_fraction=spec["test_fraction"])
    elif source in DOWNLOADED:
        if manifest is None:
            raise DataError(f"datasets.{name}: source {source!r} needs its download manifest")
        (x_tr, y_tr), (x_te, y_te) = _read_downloaded(source, Path(manifest))
        x_tr, y_tr = _subset(x_tr, y_tr, spec["train_subset"], rng, f"datasets.{name}.train_subset")
        x_te, y_te = _subset(x_te, y_te, spec["test_subset"], rng, f"datasets.{name}.test_subset")
        data = Prepared(
            (x_tr / np.float32(255)).astype(np.float32),
            y_tr,
            (x_te / np.float32(255)).astype(np.float32),
            y_te,
            {"source": source, "task": "classification", "n_classes": 10, "seed": seed},
        )
    else:
        raise DataError(f"datasets.{name}.source: unknown source {source!r}")
    if source == "digits" and spec.get("train_subset") is not None:
        x, y = _subset(
            data.x_train, data.y_train, spec["train_subset"], rng, f"datasets.{name}.train_subset"
        )
        data = Prepared(x, y, data.x_test, data.y_test, data.meta)
    meta = {**data.meta, "name": name, "config": spec}
    meta["n_train"], meta["n_test"] = len(data.x_train), len(data.x_test)
    meta["input_shape"] = list(data.x_train.shape[1:])
    return Prepared(data.x_train, data.y_train, data.x_test, data.y_test, meta).check(name)

"""Readers for the raw on-disk formats: MNIST idx (gzip), CIFAR-10 python batches, SVHN .mat.

Each returns uint8 images N x C x H x W and int64 labels; a malformed file raises DataError
naming it.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np

from gnitails.data.errors import DataError

IDX_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """An idx file of unsigned bytes (MNIST's format), gzip-compressed or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read idx file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE:
        raise DataError(f"{path}: not an unsigned-byte idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(
            f"{path}: idx header says shape {shape} but the file size disagrees (truncated?)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_mnist(files: dict[str, Path], split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
    labels = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"]).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(f"mnist {split}: {len(images)} images but {len(labels)} labels")
    return images[:, None, :, :], labels


CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def read_cifar10(archive: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read the python batches straight from the release tarball, without extracting it."""
    xs, ys = [], []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for batch in CIFAR_BATCHES[split]:
                member = tar.extractfile(f"cifar-10-batches-py/{batch}")
                entry = pickle.load(member, encoding="latin1")  # the format's own encoding
                xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(entry["labels"], dtype=np.int64))
    except (OSError, EOFError, KeyError, tarfile.TarError, pickle.UnpicklingError) as exc:
        raise DataError(f"{archive}: cannot read CIFAR-10 {split} batches ({exc})") from exc
    return np.concatenate(xs), np.concatenate(ys)


def read_svhn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """SVHN's MATLAB files store X as 32 x 32 x 3 x N and label the digit 0 as 10."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
        x, y = mat["X"], mat["y"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: cannot read SVHN .mat file ({exc})") from exc
    labels = y.reshape(-1).astype(np.int64) % 10
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels

"""The noise dump file: its format, its writing and checked reading, the samples taken from it
(no torch here: the fit stage and the figures read dumps without paying torch's import).

A dump (``results/noise/{experiment}/{run}/seed{seed}/step{step}.npz``) holds float32 arrays

- ``z_mc/{weight,bias}/{k}``   (K, *param_shape)  Z with the M-draw Monte-Carlo mean
- ``z_r/{weight,bias}/{k}``    (K, *param_shape)  Z_R = grad L~(eps) - grad (L + R)
- ``minibatch/{weight,bias}/{k}`` (K, *param_shape)  grad L(minibatch) - grad L(train set)
- ``forward/{k}``              (K', B, *activation_shape)  h~_k - h_k, k = 0..L

for the parametrised layers k = 1..L (``Net.layers[k - 1]``, which produces h_k), plus
``meta``, a JSON string. Z and Z_R of draw d use the same eps_d, and forward draw d (d < K')
is that same eps_d. Files are written byte-stably (fixed zip timestamps).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gnitails.atomic import atomic_path
from gnitails.errors import InputFileError, rebuild_hint

DUMP_FORMAT = "gnitails-noise-1"
QUANTITIES = ("z_mc", "z_r", "minibatch")  # gradient noises; "forward" is per activation
DEFINITIONS = {
    "z_mc": "grad L~(B; w, eps) - (1/M) sum_m grad L~(B; w, eps_m), M independent draws "
    "shared by the K draws",
    "z_r": "grad L~(B; w, eps) - grad (L + R)(B; w), R exact",
    "minibatch": "grad L(minibatch; w) - grad L(train set; w), no noise (Simsekli et al. 2019)",
    "forward": "h~_k - h_k, the accumulated forward noise at activation k (k = 0: the input)",
}


def save_dump(path: str | Path, arrays: Mapping[str, np.ndarray], meta: Mapping) -> None:
    """Write an .npz atomically with fixed timestamps (same content -> same bytes)."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            items = {**arrays, "meta": np.array(json.dumps(meta, sort_keys=True))}
            for key in sorted(items):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(items[key]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())


def load_dump(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, meta)`` of a dump: arrays by key (``z_mc/weight/1``, ``forward/0``, ...).

    Raises InputFileError naming the file for anything but a complete dump of finite values:
    a truncated or foreign file, a missing ``meta``, or NaN/inf (a snapshot of a diverged run).
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            if "meta" not in f.files:
                raise InputFileError(f"{path}: not a noise dump (no meta); {rebuild_hint(path)}")
            arrays = {k: f[k] for k in f.files if k != "meta"}
            meta = json.loads(str(f["meta"]))
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        if isinstance(exc, InputFileError):
            raise
        reason = str(exc) or type(exc).__name__
        raise InputFileError(
            f"{path}: not a readable noise dump ({reason}); {rebuild_hint(path)}"
        ) from None
    if meta.get("format") != DUMP_FORMAT:
        raise InputFileError(
            f"{path}: format {meta.get('format')!r}, expected {DUMP_FORMAT!r}; {rebuild_hint(path)}"
        )
    for key, arr in arrays.items():
        bad = arr.size - int(np.isfinite(arr).sum())
        if bad:
            raise InputFileError(
                f"{path}: {key} holds {bad} non-finite values (the snapshot's run diverged?); "
                "stable laws cannot be fitted to it"
            )
    return arrays, meta


def coords_sample(arr: np.ndarray) -> np.ndarray:
    """All coordinates of the first draw, flattened: the authors' per-layer sample."""
    return np.asarray(arr[0]).reshape(-1)


def typical_coordinate(arr: np.ndarray) -> int:
    """The flat coordinate whose spread over draws is the median among non-constant ones.

    A fixed, typical choice for :func:`draws_sample` that avoids dead (always zero)
    coordinates; -1 when every coordinate is constant over the draws.
    """
    flat = np.asarray(arr).reshape(arr.shape[0], -1)
    sd = flat.std(axis=0, dtype=np.float64)
    live = np.flatnonzero(sd > 0)
    if live.size == 0:
        return -1
    order = live[np.argsort(sd[live], kind="stable")]
    return int(order[(order.size - 1) // 2])


def draws_sample(arr: np.ndarray, index: int | None = None) -> np.ndarray:
    """One coordinate (flat ``index``; default :func:`typical_coordinate`) over the K draws."""
    flat = np.asarray(arr).reshape(arr.shape[0], -1)
    if index is None:
        index = max(typical_coordinate(arr), 0)
    return flat[:, index]


def layer_of(key: str) -> tuple[str, str, int]:
    """``z_mc/weight/3`` -> ("z_mc", "weight", 3); ``forward/2`` -> ("forward", "activation", 2)."""
    parts = key.split("/")
    if parts[0] == "forward":
        return "forward", "activation", int(parts[1])
    return parts[0], parts[1], int(parts[2])

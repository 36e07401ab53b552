"""Stable fits of dumped noise: one row per (step, quantity, layer, param, sample, estimator).

Samples: ``coords`` = every live coordinate of the first draw (the authors' pooled sample),
``draws`` = one coordinate over the K draws (:func:`~gnitails.noise.dump.typical_coordinate`),
and the two views of :mod:`gnitails.tails`: ``standardized`` (pooled view; matrices only:
weights, forward noise as examples x units) = the first draw's live entries divided by their
rank-1 scales r_i c_j, and ``per_coordinate`` = every coordinate across the K draws, standardised
by its own median and robust scale, pooled. Pooled raw entries mix scales that differ by orders
of magnitude, which alone drives alpha-hat far below 2. *Dead* coordinates, constant over all K
draws (e.g. weights into a ReLU unit inactive on the whole batch, which no noise reaches), are
left out of ``coords``: a point mass at 0 is not part of a stable law and drags alpha to the
bound. ``dead_fraction`` records how many were left out.

The two views' ECF rows of the gradient noises also carry a test against a matched Gaussian
null (``n_null`` replicates through the same standardisation and estimator; columns
:data:`gnitails.tails.COLUMNS`, seeded from the dump's ids and the array's key); ``coords``,
``draws`` and the other estimators' rows are descriptive (null columns NaN).

Estimators come from :mod:`gnitails.stable`, locations in S1 (``loc_s0`` converted), 95% CIs:
ECF's calibrated intervals (:mod:`gnitails.stable.intervals`); quantile's from the Cramer-Rao
bound where it is tabled (alpha >= 1.1), else an ``n_boot``-replicate block bootstrap;
Mohammadi's from its per-block spread. Mohammadi runs on the demeaned sample
(it assumes a centred law). A sample that cannot be fitted (too few points, constant) gives a
row of NaNs whose ``note`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gnitails import tails
from gnitails.atomic import atomic_path
from gnitails.config import schema_default
from gnitails.noise.dumpfile import coords_sample, layer_of, load_dump, typical_coordinate
from gnitails.stable import fit

COLUMNS = (
    "experiment",
    "run",
    "seed",
    "step",
    "quantity",
    "layer",
    "param",
    "sample",
    "estimator",
    "n",
    "alpha",
    "alpha_lo",
    "alpha_hi",
    "beta",
    "beta_lo",
    "beta_hi",
    "scale",
    "loc_s1",
    "loc_s0",
    "skewness",
    "kurtosis",
    "gof",
    "parametrization",
    "uncertainty",
    "coordinate",
    "dead_fraction",
    "coord_kurtosis_med",
    "coord_kurtosis_q90",
    *tails.COLUMNS,
    "note",
)
FLOATS = [
    "alpha", "alpha_lo", "alpha_hi", "beta", "beta_lo", "beta_hi", "scale", "loc_s1", "loc_s0",
    "skewness", "kurtosis", "gof", "dead_fraction", "coord_kurtosis_med", "coord_kurtosis_q90",
    "null_alpha_med", "null_alpha_lo", "null_alpha_hi", "null_beta_med", "null_beta_lo",
    "null_beta_hi", "p_alpha", "p_beta",
]  # fmt: skip
# The noise the claims test gets both views and their nulls; the others (Z_R = Z + a constant,
# minibatch and forward noise) keep the pooled view, descriptive, which bounds the stage's cost.
NULL_QUANTITIES = ("z_mc",)
# Library defaults are the config's (the schema is the one place they are written).
N_NULL = schema_default("noise_dump", "fit", "n_null")
N_BOOT = schema_default("noise_dump", "fit", "n_boot")
NAN = math.nan


def _fit(x: np.ndarray, estimator: str, n_boot: int):
    """ECF: the calibrated intervals (valid near alpha = 2, |beta| = 1 and below alpha 1.1, at
    the cost of a few point fits); quantile: CRB where tabled, else a small block bootstrap."""
    if estimator == "ecf":
        return fit(x, "ecf"), ""
    r = fit(x, estimator, uncertainty="crb")
    if math.isnan(r.se.get("alpha", NAN)) and n_boot > 0:
        try:
            return fit(x, estimator, uncertainty="bootstrap", n_boot=n_boot), ""
        except ValueError as exc:  # too many degenerate replicates: keep the point estimate
            return r, f"no CI: {exc}"
    return r, ""


def _fit_row(x: np.ndarray, estimator: str, n_boot: int) -> dict:
    x = np.asarray(x, dtype=np.float64)
    row = {"n": int(x.size)}
    try:
        if estimator == "mohammadi":
            xc = x - x.mean()
            try:
                r, note = fit(xc, "mohammadi"), ""
            except ValueError:  # N prime: no divisor <= sqrt(N); truncate to a block multiple
                m = max(2, math.isqrt(x.size))
                r, note = fit(xc, "mohammadi", block=m), f"block {m} (n prime)"
        else:
            r, note = _fit(x, estimator, n_boot)
    except ValueError as exc:
        return {**row, "note": str(exc)}
    ci = r.ci95
    return {
        **row,
        "alpha": r.alpha,
        "alpha_lo": ci.get("alpha", (NAN, NAN))[0],
        "alpha_hi": ci.get("alpha", (NAN, NAN))[1],
        "beta": r.beta,
        "beta_lo": ci.get("beta", (NAN, NAN))[0],
        "beta_hi": ci.get("beta", (NAN, NAN))[1],
        "scale": r.scale,
        "loc_s1": r.loc,
        "loc_s0": r.to("S0").loc,
        "skewness": r.skewness,
        "kurtosis": r.kurtosis,
        "gof": r.gof,
        "uncertainty": r.uncertainty,
        "note": note,
    }


def fit_arrays(
    arrays: Mapping[str, np.ndarray],
    estimators: Iterable[str],
    n_boot: int = N_BOOT,
    n_null: int = N_NULL,
    **ids,
) -> list[dict]:
    """Rows for every array of one dump; ``ids`` (experiment, run, seed, step) go in each and
    seed the nulls (``n_null`` = 0: no null columns)."""
    estimators = list(estimators)
    seed_ids = [ids.get(k, "") for k in ("experiment", "run", "seed", "step")]
    rows = []
    for key in sorted(arrays, key=lambda k: (layer_of(k)[0], layer_of(k)[2], layer_of(k)[1])):
        quantity, param, layer = layer_of(key)
        arr = arrays[key]
        flat = arr.reshape(arr.shape[0], -1)
        live = (
            flat.std(axis=0, dtype=np.float64) > 0
            if len(flat) > 1
            else np.ones(flat.shape[1], bool)
        )
        index = typical_coordinate(flat)
        samples = {
            "coords": (coords_sample(flat)[live], -1),
            "draws": (flat[:, max(index, 0)], index),
        }
        tests = {}
        for view, sample in tails.SAMPLE_OF_VIEW.items():
            tested = quantity in NULL_QUANTITIES
            x = tails.view_sample(arr, view) if tested or view == "pooled" else None
            if x is None:
                continue
            samples[sample] = (x, -1)
            if n_null > 0 and tested:
                rng = tails.null_rng(*seed_ids, key, view)
                tests[sample] = tails.tail_test(arr, view, n_null, rng)
        # coordinates left out: constant over the K draws (coords), or of zero MAD across them
        # (per_coordinate: more than half the draws equal, e.g. ReLU-gated weights)
        left_out = {"coords": float(1 - live.mean())}
        if "per_coordinate" in samples:
            kept = samples["per_coordinate"][0].size / flat.shape[0]
            left_out["per_coordinate"] = float(1 - kept / flat.shape[1])
        kurt = tails.coordinate_kurtosis(arr) if "per_coordinate" in samples else None
        for sample, (x, coord) in samples.items():
            for est in estimators:
                row = {
                    **ids,
                    "quantity": quantity,
                    "layer": layer,
                    "param": param,
                    "sample": sample,
                    "estimator": est,
                    "parametrization": "S1",
                    "coordinate": coord,
                    "dead_fraction": left_out.get(sample, NAN),
                    **_fit_row(x, est, n_boot),
                }
                if sample == "per_coordinate":
                    row["coord_kurtosis_med"], row["coord_kurtosis_q90"] = kurt
                test = tests.get(sample) if est == "ecf" else None
                if isinstance(test, tails.TailTest):
                    row.update(test.columns())
                elif test and not row.get("note"):
                    row["note"] = f"no null: {test}"
                rows.append(row)
    return rows


def fits_table(rows: list[dict]) -> pd.DataFrame:
    """Rows -> the fits table with fixed columns and dtypes (NaN where no value)."""
    df = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    df["n_null"] = df["n_null"].fillna(0)
    for col in ("seed", "step", "layer", "n", "coordinate", "n_null"):
        df[col] = df[col].astype("int64")
    for col in ("heavy", "skewed"):  # NA where the row has no null
        df[col] = df[col].astype("boolean")
    for col in ("note", "uncertainty"):
        df[col] = df[col].fillna("").astype(str)
    df[FLOATS] = df[FLOATS].astype("float64")
    return df


def fit_dumps(
    paths: Iterable[str], estimators: Iterable[str], n_boot: int = N_BOOT, n_null: int = N_NULL
) -> pd.DataFrame:
    """The fits table of several dumps (e.g. every step of one run and seed), in step order."""
    rows: list[dict] = []
    for path in paths:
        arrays, meta = load_dump(path)
        ids = {k: meta[k] for k in ("experiment", "run", "seed", "step")}
        rows += fit_arrays(arrays, estimators, n_boot=n_boot, n_null=n_null, **ids)
    order = ["step", "quantity", "layer", "param", "sample", "estimator"]
    return fits_table(rows).sort_values(order, kind="stable", ignore_index=True)


def save_fits(table: pd.DataFrame, path) -> None:
    """Write a fits table as Parquet, atomically: a killed job leaves no truncated table."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)

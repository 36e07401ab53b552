"""Command line interface: ``gnitails <command> ...``.

Commands are registered with ``@command(name, help)`` on a function that adds the command's
arguments to its sub-parser and returns the function that runs it. A module elsewhere in the
package adds its own commands the same way and is listed in ``PLUGINS`` (imported lazily, so
``gnitails fit`` does not pay for importing torch models)::

    from gnitails.cli import command

    @command("simulate", "simulate a Levy-driven SDE")
    def _simulate(p):
        p.add_argument("--steps", type=int, default=1000)
        return lambda args: do_it(args.steps)  # returns the exit code

Errors a user can fix (missing file, wrong key, bad value) print one line naming the culprit
and exit with status 2, like argparse's own usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

Runner = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], Runner]]] = {}
PLUGINS: tuple[str, ...] = ()  # e.g. "gnitails.sde.cli": modules that call @command


class CliError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


def command(name: str, help: str):
    """Register a sub-command (see module docstring)."""

    def deco(configure: Callable[[argparse.ArgumentParser], Runner]):
        COMMANDS[name] = (help, configure)
        return configure

    return deco


# ----------------------------------------------------------------------------- data loading


def load_sample(path: str, key: str | None = None, column: str | None = None) -> np.ndarray:
    """Read a numeric array from .npy, .npz (``key``), .csv (``column``) or whitespace text."""
    p = Path(path)
    if not p.exists():
        raise CliError(f"no such file: {path}")
    if p.is_dir():
        raise CliError(f"is a directory, not a data file: {path}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.keys())
                if key is None:
                    if len(keys) != 1:
                        raise CliError(f"{path} holds arrays {keys}: choose one with --key")
                    key = keys[0]
                if key not in keys:
                    raise CliError(f"no key {key!r} in {path}; it holds {keys}")
                return z[key]
        return _load_text(p, column, delimiter="," if suffix == ".csv" else None)
    except CliError:
        raise
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read {path}: {e}") from e


def _load_text(p: Path, column: str | None, delimiter: str | None) -> np.ndarray:
    with p.open() as fh:
        first = fh.readline()
    names: list[str] | None = None
    fields = first.strip().split(delimiter)
    try:
        [float(f) for f in fields if f.strip()]
        skip = 0
    except ValueError:  # a header line
        names = [f.strip().strip('"') for f in fields]
        skip = 1
    data = np.loadtxt(p, delimiter=delimiter, skiprows=skip, ndmin=2, dtype=np.float64)
    if column is None:
        if data.shape[1] == 1:
            return data[:, 0]
        raise CliError(
            f"{p} has {data.shape[1]} columns{f' {names}' if names else ''}: choose one with "
            "--column (name or 0-based index)"
        )
    if names and column in names:
        return data[:, names.index(column)]
    try:
        j = int(column)
    except ValueError:
        raise CliError(f"no column {column!r} in {p}; columns: {names}") from None
    if not 0 <= j < data.shape[1]:
        raise CliError(f"column index {j} out of range for {p} ({data.shape[1]} columns)")
    return data[:, j]


def save_sample(x: np.ndarray, path: str) -> None:
    """Write ``x`` as .npy, .npz (key "x"), or one value per line (.csv / anything else)."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise CliError(f"output folder does not exist: {p.parent}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        np.save(p, x)
    elif suffix == ".npz":
        np.savez(p, x=x)
    else:
        np.savetxt(p, x, fmt="%.9g" if x.dtype == np.float32 else "%.17g")


# ----------------------------------------------------------------------------- commands


def _probability_like(lo: float, hi: float, name: str):
    def conv(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {s!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{name} must lie in [{lo}, {hi}], got {v}")
        return v

    return conv


@command("fit", "fit an alpha-stable law to a 1-D sample")
def _fit_command(p: argparse.ArgumentParser) -> Runner:
    from gnitails.stable import METHODS

    p.add_argument("path", help=".npy, .npz (with --key), .csv or whitespace-separated text")
    p.add_argument("--method", default="ecf", choices=METHODS)
    p.add_argument("--parametrization", default="S1", type=str.upper, choices=["S0", "S1"])
    p.add_argument("--key", help="array name inside an .npz")
    p.add_argument("--column", help="column name or index in a .csv / text file")
    p.add_argument("--ravel", action="store_true", help="pool all values of an n-D array")
    p.add_argument("--uncertainty", default="auto", choices=["auto", "crb", "bootstrap", "none"])
    p.add_argument("--block", default="sqrt", help="mohammadi block size: 'sqrt' or an int")
    p.add_argument("--nan-policy", default="raise", choices=["raise", "omit"])
    p.add_argument("--json", action="store_true", help="print one JSON object")

    def run(a: argparse.Namespace) -> int:
        from gnitails.stable import fit

        x = load_sample(a.path, a.key, a.column)
        if a.ravel:
            x = np.ravel(x)
        elif np.ndim(x) > 1:
            raise CliError(f"{a.path}: array has shape {np.shape(x)}; pass --ravel to pool it")
        block = a.block if a.block == "sqrt" else _int_arg(a.block, "--block")
        try:
            r = fit(x, a.method, a.parametrization, uncertainty=a.uncertainty, block=block,
                    nan_policy=a.nan_policy)  # fmt: skip
        except (ValueError, TypeError) as e:
            raise CliError(f"{a.path}: {e}") from None
        if a.json:
            print(json.dumps({"path": a.path, **r.to_dict()}))
        else:
            print(_format(r, a.path))
        return 0

    return run


def _int_arg(s: str, name: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise CliError(f"{name} must be 'sqrt' or an integer, got {s!r}") from None


def _format(r, path: str) -> str:
    lines = [f"{path}: n = {r.n}, method = {r.method}, parametrization = {r.parametrization}"]
    for k in ("alpha", "beta", "scale", "loc"):
        v = getattr(r, k)
        if v != v:  # NaN: not estimated by this method
            continue
        se = r.se.get(k)
        lines.append(f"  {k:<6} {v: .6g}" + (f"  (se {se:.2g}, {r.uncertainty})" if se else ""))
    lines.append(f"  gof (sqrt(n) sup|ECF - phi|) {r.gof:.3g}; "
                 f"skewness {r.skewness:.4g}, excess kurtosis {r.kurtosis:.4g}")  # fmt: skip
    return "\n".join(lines)


@command("sample", "draw alpha-stable variates (Chambers-Mallows-Stuck) into a file")
def _sample_command(p: argparse.ArgumentParser) -> Runner:
    p.add_argument("output", help="output file: .npy, .npz (key 'x'), .csv or text")
    p.add_argument("--alpha", required=True, type=_probability_like(1e-9, 2.0, "alpha"))
    p.add_argument("--beta", default=0.0, type=_probability_like(-1.0, 1.0, "beta"))
    p.add_argument("--scale", default=1.0, type=float)
    p.add_argument("--loc", default=0.0, type=float)
    p.add_argument("-n", "--size", default=10000, type=int)
    p.add_argument("--parametrization", default="S1", type=str.upper, choices=["S0", "S1"])
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--seed", default=None, type=int)

    def run(a: argparse.Namespace) -> int:
        from gnitails.stable import sample

        if a.size < 1:
            raise CliError(f"--size must be positive, got {a.size}")
        try:
            x = sample(a.alpha, a.beta, a.scale, a.loc, a.size, parametrization=a.parametrization,
                       dtype=a.dtype, seed=a.seed)  # fmt: skip
        except ValueError as e:
            raise CliError(str(e)) from None
        save_sample(x, a.output)
        return 0

    return run


# ----------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    for mod in PLUGINS:
        importlib.import_module(mod)
    parser = argparse.ArgumentParser(prog="gnitails", description="gni-tails tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_, configure) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_run=configure(sp))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CliError as e:
        print(f"gnitails {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

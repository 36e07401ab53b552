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
import contextlib
import importlib
import json
import math
import os
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gnitails.atomic import atomic_path

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


READ_ERRORS = (OSError, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile)


def load_sample(path: str, key: str | None = None, column: str | None = None) -> np.ndarray:
    """Read a numeric array from .npy, .npz (``key``), .csv (``column``) or whitespace text.

    Every problem a user can fix (missing, empty, corrupt or foreign file, an option that does
    not apply to the format) is a ``CliError`` naming the file or the option.
    """
    p = Path(path)
    if not p.exists():
        raise CliError(f"no such file: {path}")
    if p.is_dir():
        raise CliError(f"is a directory, not a data file: {path}")
    suffix = p.suffix.lower()
    if key is not None and suffix != ".npz":
        raise CliError(f"--key picks an array in an .npz file; {path} is not one")
    if column is not None and suffix in (".npy", ".npz"):
        raise CliError(f"--column picks a column of a .csv or text file; {path} is {suffix}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on empty text; we say it below
            x = _load(p, suffix, key, column)
    except CliError:
        raise
    except READ_ERRORS as e:
        what = f" (not a valid {suffix} file: corrupt, truncated or another format)"
        raise CliError(f"cannot read {path}{what if suffix in ('.npy', '.npz') else ''}: "
                       f"{e or type(e).__name__}") from None  # fmt: skip
    if np.size(x) == 0:
        raise CliError(f"no data in {path}")
    return x


def _load(p: Path, suffix: str, key: str | None, column: str | None) -> np.ndarray:
    if suffix in (".npy", ".npz"):
        with p.open("rb") as fh:
            head = fh.read(6)
        if not head:
            raise EOFError("the file is empty")
        if suffix == ".npy" and head != b"\x93NUMPY":
            raise ValueError("no .npy header")
        if suffix == ".npz" and not zipfile.is_zipfile(p):
            raise zipfile.BadZipFile("no zip archive inside")
    if suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            if key is None:
                if len(keys) != 1:
                    raise CliError(f"{p} holds arrays {keys}: choose one with --key")
                key = keys[0]
            if key not in keys:
                raise CliError(f"no key {key!r} in {p}; it holds {keys}")
            return z[key]
    return _load_text(p, column, delimiter="," if suffix == ".csv" else None)


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
    if p.is_dir() or path.endswith(("/", os.sep)):
        raise CliError(f"output path is a directory: {path}")
    if p.parent and not p.parent.exists():
        raise CliError(f"output folder does not exist: {p.parent}")
    suffix = p.suffix.lower()
    # A file is written atomically (a killed `gnitails sample` leaves no half-written file);
    # a link or a special file (/dev/stdout, a FIFO) is written in place, never replaced.
    special = p.is_symlink() or (p.exists() and not p.is_file())
    try:
        with contextlib.nullcontext(p) if special else atomic_path(p) as target:
            with target.open("wb") as fh:
                if suffix == ".npy":
                    np.save(fh, x)
                elif suffix == ".npz":
                    np.savez(fh, x=x)
                else:
                    np.savetxt(fh, x, fmt="%.9g" if x.dtype == np.float32 else "%.17g")
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from None


# ----------------------------------------------------------------------------- commands


def _number(name: str, lo: float = -math.inf, hi: float = math.inf, open_lo: bool = False):
    """argparse type: a finite float in [lo, hi] (or (lo, hi] with ``open_lo``), named."""

    def conv(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {s!r}") from None
        if not (math.isfinite(v) and (lo < v if open_lo else lo <= v) and v <= hi):
            if math.isfinite(hi):
                what = f"lie in {'(' if open_lo else '['}{lo:g}, {hi:g}]"
            elif math.isfinite(lo):
                what = f"be finite and {'>' if open_lo else '>='} {lo:g}"
            else:
                what = "be finite"
            raise argparse.ArgumentTypeError(f"{name} must {what}, got {s}")
        return v

    return conv


def _count(name: str, minimum: int):
    """argparse type: an integer >= minimum, named."""

    def conv(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {s!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}, got {v}")
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
        except (ValueError, TypeError) as e:  # name the shell option, not the Python argument
            msg = str(e).replace("nan_policy='omit'", "--nan-policy omit")
            raise CliError(f"{a.path}: {msg}") from None
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
    p.add_argument("--alpha", required=True, type=_number("--alpha", 0.0, 2.0, open_lo=True))
    p.add_argument("--beta", default=0.0, type=_number("--beta", -1.0, 1.0))
    p.add_argument("--scale", default=1.0, type=_number("--scale", 0.0, open_lo=True))
    p.add_argument("--loc", default=0.0, type=_number("--loc"))
    p.add_argument("-n", "--size", default=10000, type=_count("--size", 1))
    p.add_argument("--parametrization", default="S1", type=str.upper, choices=["S0", "S1"])
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--seed", default=None, type=_count("--seed", 0))

    def run(a: argparse.Namespace) -> int:
        from gnitails.stable import sample
        from gnitails.stable.sampler import check_overflow

        try:
            check_overflow(a.alpha, a.scale, np.dtype(a.dtype), name="--alpha")
            x = sample(a.alpha, a.beta, a.scale, a.loc, a.size, parametrization=a.parametrization,
                       dtype=a.dtype, seed=a.seed)  # fmt: skip
        except ValueError as e:
            raise CliError(str(e)) from None
        save_sample(x, a.output)
        return 0

    return run


# ----------------------------------------------------------------------------- entry point


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like a CliError (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    for mod in PLUGINS:
        importlib.import_module(mod)
    parser = _Parser(prog="gnitails", description="gni-tails tools")
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

"""`gnitails fit` / `gnitails sample` round trips and error messages (main(argv) in-process)."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnitails.cli import main
from gnitails.stable import sample


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_then_fit_json(tmp_path, capsys):
    path = tmp_path / "x.npy"
    code, _, _ = run(["sample", path, "--alpha", 1.5, "--beta", -0.5, "--scale", 2,
                      "--loc", 1, "-n", 50000, "--seed", 1], capsys)  # fmt: skip
    assert code == 0 and np.load(path).shape == (50000,)
    code, out, _ = run(["fit", path, "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    for k in ("alpha", "beta", "scale", "loc", "parametrization", "method", "n"):
        assert k in d
    assert (d["method"], d["parametrization"], d["n"]) == ("ecf", "S1", 50000)
    assert abs(d["alpha"] - 1.5) < 0.05 and abs(d["beta"] + 0.5) < 0.15
    assert abs(d["scale"] - 2.0) < 0.1
    code, out, _ = run(["fit", path, "--json", "--parametrization", "s0", "--method",
                       "quantile"], capsys)  # fmt: skip
    assert json.loads(out)["parametrization"] == "S0" and json.loads(out)["method"] == "quantile"
    code, out, _ = run(["fit", path], capsys)  # human-readable
    assert code == 0 and "alpha" in out and "S1" in out


def test_formats(tmp_path, capsys):
    x = sample(1.7, 0.0, size=3000, seed=2)
    np.savez(tmp_path / "a.npz", noise=x, other=x[:10])
    code, out, _ = run(["fit", tmp_path / "a.npz", "--key", "noise", "--json"], capsys)
    assert code == 0 and json.loads(out)["n"] == 3000
    (tmp_path / "a.csv").write_text("step,z\n" + "\n".join(f"{i},{v}" for i, v in enumerate(x)))
    code, out, _ = run(["fit", tmp_path / "a.csv", "--column", "z", "--json"], capsys)
    assert code == 0 and json.loads(out)["n"] == 3000
    code, out, _ = run(["fit", tmp_path / "a.csv", "--column", "1", "--json"], capsys)
    assert code == 0
    np.savetxt(tmp_path / "a.txt", x)
    code, out, _ = run(["fit", tmp_path / "a.txt", "--method", "mohammadi", "--block", "10",
                        "--json"], capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["beta"] is None
    code, _, _ = run(["sample", tmp_path / "s.csv", "--alpha", 2, "-n", 10, "--seed", 0], capsys)
    assert np.loadtxt(tmp_path / "s.csv").shape == (10,)


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        (None, ["fit", "{d}/missing.npy"], "no such file: {d}/missing.npy"),
        ("npz", ["fit", "{d}/a.npz", "--key", "nope"], "no key 'nope'"),
        ("npz", ["fit", "{d}/a.npz"], "choose one with --key"),
        ("const", ["fit", "{d}/c.npy"], "constant sample"),
        ("nan", ["fit", "{d}/n.npy"], "non-finite"),
        ("2d", ["fit", "{d}/m.npy"], "--ravel"),
        ("csv2", ["fit", "{d}/b.csv"], "--column"),
        ("csv2", ["fit", "{d}/b.csv", "--column", "w"], "no column 'w'"),
        (None, ["sample", "{d}/nodir/x.npy", "--alpha", "1.5"], "output folder does not exist"),
        ("nan", ["fit", "{d}/n.npy"], "pass --nan-policy omit"),
        ("corrupt", ["fit", "{d}/bad.npz"], "cannot read {d}/bad.npz (not a valid .npz file"),
        ("corrupt", ["fit", "{d}/bad.npy"], "no .npy header"),
        ("empty", ["fit", "{d}/e.npy"], "the file is empty"),
        ("empty", ["fit", "{d}/e.txt"], "no data in {d}/e.txt"),
        (None, ["fit", "/dev/null"], "no data in /dev/null"),
        ("const", ["fit", "{d}/c.npy", "--key", "x"], "--key picks an array in an .npz"),
        ("const", ["fit", "{d}/c.npy", "--column", "1"], "--column picks a column"),
        (None, ["sample", "{d}", "--alpha", "1.5"], "output path is a directory: {d}"),
        (None, ["sample", "{d}/x.npy", "--alpha", "1e-9"], "--alpha = 1e-09 is too small"),
    ],
)
def test_user_errors_exit_2(tmp_path, capsys, setup, argv, message):
    d = str(tmp_path)
    x = np.random.default_rng(0).standard_cauchy(100)
    if setup == "npz":
        np.savez(tmp_path / "a.npz", a=x, b=x)
    elif setup == "const":
        np.save(tmp_path / "c.npy", np.ones(100))
    elif setup == "nan":
        np.save(tmp_path / "n.npy", np.r_[x, np.nan])
    elif setup == "2d":
        np.save(tmp_path / "m.npy", x.reshape(10, 10))
    elif setup == "csv2":
        (tmp_path / "b.csv").write_text("u,v\n" + "\n".join(f"{a},{a}" for a in x))
    elif setup == "corrupt":
        (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
        (tmp_path / "bad.npy").write_text("1 2 3")
    elif setup == "empty":
        (tmp_path / "e.npy").write_bytes(b"")
        (tmp_path / "e.txt").write_text("")
    code, _, err = run([a.format(d=d) for a in argv], capsys)
    assert code == 2
    assert message.format(d=d) in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line


def test_argparse_rejects_bad_values(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "x.npy", "--alpha", "2.5"])
    assert e.value.code == 2
    assert "alpha must lie in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", "x.npy", "--method", "hill"])
    capsys.readouterr()
    for option, value in (("--seed", "-1"), ("--scale", "0"), ("--loc", "nan"), ("--size", "0")):
        with pytest.raises(SystemExit) as e:
            main(["sample", "x.npy", "--alpha", "1.5", option, value])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert f"{option} must" in err and err.count("\n") == 1  # one line, no usage block


def cli(*argv, cwd):
    """`gnitails ...` as a shell user runs it: a fresh interpreter, stderr captured."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "gnitails.cli", *map(str, argv)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)


@pytest.mark.parametrize(
    ("files", "argv", "message"),
    [
        ({"bad.npz": b"PK\x03\x04\x14\x00 cut short"}, ["fit", "bad.npz"], "cannot read bad.npz"),
        ({"e.npz": b""}, ["fit", "e.npz"], "cannot read e.npz"),
        ({"e.csv": b""}, ["fit", "e.csv"], "no data in e.csv"),
        ({}, ["fit", "/dev/null"], "no data in /dev/null"),
        ({}, ["fit", "missing.npy"], "no such file: missing.npy"),
        ({"d/.keep": b""}, ["sample", "d", "--alpha", "1.5"], "output path is a directory: d"),
        ({}, ["sample", "x.npy", "--alpha", "1.5", "--seed", "-1"], "--seed must be"),
        ({}, ["sample", "x.npy", "--alpha", "3"], "--alpha must lie in (0, 2]"),
        ({"n.csv": b"1\n2\nnan\n" * 20}, ["fit", "n.csv"], "pass --nan-policy omit"),
        ({"t.txt": b"1 2\n3\n"}, ["fit", "t.txt"], "cannot read t.txt"),
    ],
    ids=[
        "corrupt-npz",
        "empty-npz",
        "empty-csv",
        "dev-null",
        "missing",
        "sample-into-dir",
        "seed-negative",
        "alpha-out-of-range",
        "nan",
        "ragged-text",
    ],  # fmt: skip
)
def test_shell_user_gets_one_line_and_status_2(tmp_path, files, argv, message):
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    done = cli(*argv, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert "nan_policy" not in done.stderr  # the shell option, not the Python argument


def doc_console_examples(path):
    """(command, expected output lines) for each `$ gnitails ...` in the page's console blocks."""
    lines, out, block = path.read_text().splitlines(), [], False
    for line in lines:
        if line.startswith("```"):
            block = line.strip() == "```console"
            continue
        if block and line.startswith("$ "):
            out.append((line[2:], []))
        elif block and out:
            out[-1][1].append(line)
    return out


def _comparable(line: str) -> str:
    return re.sub(r"\s+\(se [^)]*\)", "", line).rstrip()  # intervals are documented elsewhere


def test_docs_worked_example_matches_the_cli(tmp_path, capsys, monkeypatch, root):
    """docs/stable.md's console example, run here: same lines (standard errors aside), the same
    numbers in its JSON excerpt, the same exit status."""
    examples = doc_console_examples(root / "docs" / "stable.md")
    assert len(examples) >= 3
    monkeypatch.chdir(tmp_path)
    for command, expected in examples:
        cmd, _, tail = command.partition(";")
        code = main(shlex.split(cmd)[1:])
        out, err = capsys.readouterr()
        got = (out + err).splitlines() + ([str(code)] if "echo $?" in tail else [])
        if any("{" in e for e in expected):  # a JSON excerpt: compare the values it shows
            data = json.loads(out)
            for key, value in re.findall(r'"(\w+)": ([-\d.e+]+|"\w+")', " ".join(expected)):
                want = json.loads(value)
                exact = isinstance(want, (str, int))
                # The page was written on one machine: its last digits differ on another CPU
                # (AVX-512 vs AVX2 kernels), a real change differs much earlier.
                assert data[key] == (want if exact else pytest.approx(want, rel=1e-8)), key
        else:
            assert [_comparable(g) for g in got] == [_comparable(e) for e in expected], command


def test_sample_writes_a_file_atomically_and_a_link_or_device_in_place(tmp_path, capsys):
    out = tmp_path / "x.npy"
    assert run(["sample", out, "--alpha", 1.5, "-n", 5, "--seed", 0], capsys)[0] == 0
    assert np.load(out).shape == (5,) and [p.name for p in tmp_path.iterdir()] == ["x.npy"]
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "target.csv")
    assert run(["sample", link, "--alpha", 1.5, "-n", 5, "--seed", 0], capsys)[0] == 0
    assert link.is_symlink() and np.loadtxt(tmp_path / "target.csv").shape == (5,)
    assert run(["sample", "/dev/null", "--alpha", 1.5, "-n", 5], capsys)[0] == 0
    assert Path("/dev/null").is_char_device()

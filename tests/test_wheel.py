"""The library as a user installs it: a wheel, in a fresh venv, away from this checkout.

The checkout's venv has `gnitails` installed in editable mode (its source folder on sys.path),
which hides any file the wheel forgets. So the fresh venv gets the wheel, and sees the
dependencies (numpy, scipy, ...) through a .pth line naming this venv's site-packages. Python
reads .pth files only in site directories, not in folders a .pth line adds, so the editable
install's own .pth there is never read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.wheel


def run(*cmd, cwd: Path, **kw) -> subprocess.CompletedProcess:
    # No PYTHONPATH: tests run with it pointing at the checkout, which would shadow the wheel.
    # No time limit: the work is bounded, and a busy machine may take several times as long.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, **kw
    )
    assert out.returncode == 0, f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy of what the wheel is made of: setuptools writes build/ and *.egg-info
    # into the source tree, which must not land in (or come from) the checkout.
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(
        ROOT / "workflow" / "scripts" / "gnitails", src / "workflow/scripts/gnitails", ignore=skip
    )
    for path in (ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("LICEN[CS]E*")):
        shutil.copy(path, src / path.name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # No build isolation: it would download setuptools; this venv has it.
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("gnitails-*.whl")

    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp)
    # The dependencies, after the install (pip would take the editable gnitails for installed).
    site = Path(sysconfig.get_path("purelib", vars={"base": env_dir, "platbase": env_dir}))
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    return env_dir


def test_the_wheel_is_imported(fresh_venv, tmp_path):
    out = run(
        fresh_venv / "bin/python", "-c", "import gnitails; print(gnitails.__file__)", cwd=tmp_path
    )
    assert Path(out.stdout.strip()).is_relative_to(fresh_venv)


def test_config_check_finds_its_schema(fresh_venv, tmp_path):
    out = run(
        fresh_venv / "bin/python",
        "-m",
        "gnitails.config",
        ROOT / "config/config.yaml",
        cwd=tmp_path,
    )
    assert "valid" in out.stdout


def test_fit_reads_its_tables(fresh_venv, tmp_path):
    x = np.random.default_rng(0).standard_cauchy(2000)
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.txt", x)
    for name in ("x.npy", "x.txt"):
        # ECF with its calibrated intervals (the interval table), then the quantile method
        # (the quantile table) with CRB intervals (the CRB table).
        out = run(fresh_venv / "bin/gnitails", "fit", name, "--json", cwd=tmp_path)
        assert '"alpha"' in out.stdout
        run(
            fresh_venv / "bin/gnitails",
            "fit",
            name,
            "--method",
            "quantile",
            "--uncertainty",
            "crb",
            cwd=tmp_path,
        )


def test_python_m_gnitails_help(fresh_venv, tmp_path):
    out = run(fresh_venv / "bin/python", "-m", "gnitails", "--help", cwd=tmp_path)
    assert "fit" in out.stdout

"""Shared fixtures: the repository root, config loading, and running Snakemake in a subprocess."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gnitails.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / "tests" / "config" / "test.yaml"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def test_config() -> dict:
    """A fresh, not yet validated copy of the tiny test config."""
    return copy.deepcopy(load_yaml(TEST_CONFIG))


def snakemake(
    *args: str, workdir: Path, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run this repo's workflow with `workdir` as working directory (results land there)."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    cmd = [str(bindir / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir
    )

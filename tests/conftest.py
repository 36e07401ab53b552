"""Shared fixtures: the repository root, config loading, and running Snakemake in a subprocess."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from gnitails.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / "tests" / "config" / "test.yaml"
SNAKEFILE = ROOT / "workflow" / "Snakefile"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def test_config() -> dict:
    """A fresh, not yet validated copy of the tiny test config."""
    return copy.deepcopy(load_yaml(TEST_CONFIG))


@pytest.fixture
def mnist_config(tmp_path, test_config) -> Path:
    """The test config on a downloaded source (500 MNIST images, digits_mult's experiment),
    written to a file: what the download tests run or plan."""
    test_config["datasets"] = {"mnist500": {"source": "mnist", "train_subset": 500}}
    test_config["experiments"] = {
        "m": {**test_config["experiments"]["digits_mult"], "dataset": "mnist500"}
    }
    test_config["figures"] = {}
    path = tmp_path / "mnist.yaml"
    path.write_text(yaml.safe_dump(test_config))
    return path


def snakemake(
    *args: str, workdir: Path, timeout: float | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run this repo's workflow with `workdir` as working directory (results land there).

    No wall-clock limit by default: the work is bounded by the test config, and a busy machine
    may take several times as long as a quiet one (CI's own limit catches a hang)."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    # Snakemake finds profiles/default next to the Snakefile or in the working directory: the
    # repository's is in neither, so name it (the profile `make run` uses from the root).
    cmd = [str(bindir / "snakemake"), "-s", str(SNAKEFILE), "--directory", str(workdir)]
    cmd += ["--workflow-profile", str(ROOT / "profiles" / "default")]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir
    )


def job_stats(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table: jobs per rule."""
    stats: dict[str, int] = {}
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Job stats:")
    for line in lines[start + 3 :]:
        name, _, count = line.strip().rpartition(" ")
        if not count.isdigit() or name.strip() == "total":
            break
        stats[name.strip()] = int(count)
    return stats


def skip_or_fail_in_ci(reason: str, what: str) -> NoReturn:
    """Skip with the reason; in CI (CI=true) `what` must run, so fail instead.

    For the tests that install what they need (SLURM, Chromium, rsync) and so cannot run
    everywhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true, but {what} cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def ensure_debian_commands(what: str, *command_packages: str) -> None:
    """Make the system commands a test needs available: ``COMMAND:PACKAGE`` pairs, installed
    with tools/ensure-debian-packages.sh (apt, as root) when missing; otherwise skip, or fail
    in CI, naming `what` and the reason."""
    missing = [cp for cp in command_packages if not shutil.which(cp.partition(":")[0])]
    if not missing:
        return
    packages = ", ".join(cp.partition(":")[2] for cp in missing)
    if not sys.platform.startswith("linux"):
        skip_or_fail_in_ci(f"{packages}: installed with apt on Linux only", what)
    if os.geteuid() != 0:
        skip_or_fail_in_ci(f"{packages} missing, and installing with apt needs root", what)
    if not shutil.which("apt-get"):
        skip_or_fail_in_ci(f"{packages} missing, and there is no apt-get to install", what)
    tool = ROOT / "tools" / "ensure-debian-packages.sh"
    # An apt install on a slow mirror may take minutes; a hang must not hang the suite.
    run = subprocess.run(
        [str(tool), *missing], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900
    )
    if run.returncode != 0:
        skip_or_fail_in_ci(
            f"installing {packages} failed (rc {run.returncode}):\n{run.stderr}", what
        )


# ---------------------------------------------------------------------------------------------
# SLURM (tests/test_slurm.py): lines the SLURM tests collect (job ids, sacct rows, sbatch lines,
# daemon start/stop) are printed in a "SLURM" section of pytest's terminal summary, so they show
# in the CI log even though pytest captures test output.
_SLURM_SUMMARY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def slurm_summary(request) -> list[str]:
    """Append lines here to have them printed in the summary at the end of the run."""
    return request.config.stash.setdefault(_SLURM_SUMMARY, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_SLURM_SUMMARY, [])
    if lines:
        terminalreporter.write_sep("-", "SLURM")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    """Run the SLURM tests last. Once SLURM's client tools are installed, every Snakemake start
    probes them (the SLURM executor plugin runs `scontrol` when it is imported); after the test
    stops the daemons, each probe waits ~9 s for a timeout, which would slow every workflow test
    that came after."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)

"""tools/with-load.sh: runs a command under N busy loops, returns its status, leaves no loop."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

WITH_LOAD = ROOT / "tools" / "with-load.sh"
# The command prints the children of with-load.sh: the busy loops and itself.
SHOW_CHILDREN = "cat /proc/$PPID/task/$PPID/children; echo"


def gone(pids) -> bool:
    """No process left with these pids (or only an unrelated one that reused a pid)."""
    return all(not Path(f"/proc/{pid}").exists() for pid in pids)


@pytest.mark.parametrize("status", [0, 3])
def test_runs_the_command_returns_its_status_and_stops_the_loops(status):
    cmd = f"{SHOW_CHILDREN}; exit {status}"
    done = subprocess.run([WITH_LOAD, "2", "--", "sh", "-c", cmd], capture_output=True, text=True)
    assert done.returncode == status, done.stderr
    children = done.stdout.split()
    assert len(children) == 3  # two busy loops and the command
    assert gone(children)


def test_interrupt_stops_the_loops_too():
    # Ctrl-C reaches the whole process group; the loops ignore it, the EXIT trap kills them.
    proc = subprocess.Popen(
        [WITH_LOAD, "2", "--", "sh", "-c", "echo ready; exec sleep 60"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
        # A shell cannot trap a signal that was ignored when it started, and a test run started
        # in the background (`make test &`) ignores SIGINT: give the script the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # The command runs only after both loops started: its first line means all three are up
    # (a blocking read, no time limit a slow machine could hit).
    assert proc.stdout.readline().strip() == "ready"
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    pids = children.read_text().split()
    assert len(pids) == 3
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait() == 130
    assert gone(pids)


@pytest.mark.parametrize("argv", [[], ["2"], ["2", "true"], ["x", "--", "true"]])
def test_usage_errors_exit_2(argv):
    done = subprocess.run([WITH_LOAD, *argv], capture_output=True, text=True)
    assert done.returncode == 2 and "usage:" in done.stderr

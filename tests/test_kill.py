"""kill -9 during a fit and a figure: no truncated output is left, and a rerun gives the bytes
of an uninterrupted run. (Training's kill test lives in test_training.py.)

One interpreter per test imports the job's modules once, then forks a child per run (imports
take seconds, the jobs here a fraction of one). A run is killed twice before the run that
completes: once by itself just before its n-th atomic rename (every byte written, nothing yet
in place: the worst moment for a non-atomic writer), once from outside at a random moment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Reads "FOLDER<tab>KILL_AT_RENAME<tab>KILL_AFTER" lines; for each forks a child that runs
# the job in FOLDER, then prints the child's exit status (-9: killed) and its seconds. With
# KILL_AT_RENAME = n > 0 the child SIGKILLs itself at its n-th os.replace (the temporary file
# is complete); with KILL_AFTER >= 0 the runner kills it after that many seconds (before
# reaping it, so the pid cannot belong to another process yet).
RUNNER = """
import os, signal, sys, time, traceback
{imports}
for line in sys.stdin:
    folder, kill_at, kill_after = line.rstrip("\\n").split("\\t")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        renames, replace = [0], os.replace
        def killing_replace(src, dst):
            renames[0] += 1
            if renames[0] == int(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)
            replace(src, dst)
        os.replace = killing_replace
        try:
            os.chdir(folder)
{job}
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if float(kill_after) >= 0:
        time.sleep(float(kill_after))
        os.kill(pid, signal.SIGKILL)  # a no-op on a child that has already exited
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    print(status, time.monotonic() - t0, flush=True)
"""

JOBS = {
    "fit": (
        "from gnitails.noise.fits import fit_dumps, save_fits",
        """
        table = fit_dumps(["dump.npz"], ["ecf", "mohammadi"], n_boot=0, n_null=39)
        save_fits(table, "fits.parquet")
        """,
        ["fits.parquet"],
    ),
    "figure": (
        "import pandas as pd; from gnitails.plots.curves import loss_figure",
        """
        metrics = pd.read_csv("metrics.csv")
        loss_figure(metrics, ["a", "b"], "step", "train_loss", None, "f.pdf", "f.png", "f.csv")
        """,
        ["f.csv", "f.pdf", "f.png"],
    ),
}


class Runner:
    """The forking interpreter of one job."""

    def __init__(self, job: str):
        imports, body, _ = JOBS[job]
        code = RUNNER.format(imports=imports, job=textwrap.indent(textwrap.dedent(body), " " * 12))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, folder: Path, kill_at_rename: int = 0, kill_after: float = -1.0):
        """Exit status of one run and its seconds (killed after `kill_after` s if >= 0)."""
        self.proc.stdin.write(f"{folder}\t{kill_at_rename}\t{kill_after}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, "the runner died (its traceback is in the captured stderr)"
        status, seconds = answer.split()
        return int(status), float(seconds)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def make_inputs(job: str, folder: Path) -> None:
    rng = np.random.default_rng(0)
    if job == "fit":
        from gnitails.noise.dump import DUMP_FORMAT, save_dump

        arrays = {q: rng.standard_t(1.5, (24, 16, 8)).astype(np.float32) for q in
                  ("z_mc/weight/1", "z_r/weight/1")}  # fmt: skip
        meta = {"format": DUMP_FORMAT, "experiment": "e", "run": "m1", "seed": 0, "step": 0}
        save_dump(folder / "dump.npz", arrays, meta)
    else:
        rows = [
            {"experiment": e, "run": r, "seed": s, "step": t, "train_loss": rng.gamma(2.0)}
            for e in ("a", "b") for r in ("m1", "m16") for s in range(3) for t in range(0, 50, 5)
        ]  # fmt: skip
        pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)


def contents(folder: Path, outputs: list[str]) -> dict[str, bytes | None]:
    return {name: (folder / name).read_bytes() if (folder / name).exists() else None
            for name in outputs}  # fmt: skip


@pytest.mark.parametrize("job", list(JOBS))
def test_kill_9_then_rerun_gives_the_uninterrupted_bytes(tmp_path, job):
    outputs = JOBS[job][2]
    ref, work = tmp_path / "ref", tmp_path / "work"
    for folder in (ref, work):
        folder.mkdir()
        make_inputs(job, folder)
    runner = Runner(job)
    try:
        status, seconds = runner.run(ref)
        assert status == 0
        expected = contents(ref, outputs)

        # Killed just before its last rename: every byte written, the last file not in place.
        status, _ = runner.run(work, kill_at_rename=len(outputs))
        assert status == -signal.SIGKILL
        assert contents(work, outputs) == {**expected, outputs[-1]: None}
        # Killed from outside at a random moment of its work.
        delay = np.random.default_rng(len(job)).uniform(0, seconds)
        runner.run(work, kill_after=delay)
        for name, data in contents(work, outputs).items():
            assert data in (None, expected[name]), f"{name} truncated by kill -9 at {delay:.2f}s"

        assert runner.run(work)[0] == 0
    finally:
        runner.close()
    assert contents(work, outputs) == expected
    # A killed writer's hidden temporaries may stay behind; no visible stray file does.
    visible = {p.name for p in work.iterdir() if not p.name.startswith(".")}
    assert visible == {p.name for p in ref.iterdir()}

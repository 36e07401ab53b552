"""bench/gpu_check.sh's CPU fallback runs and writes a complete, plainly labelled report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_writes_the_report(tmp_path):
    out = tmp_path / "gpu.md"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_OUT": str(out)}
    proc = subprocess.run(
        [str(ROOT / "bench" / "gpu_check.sh"), "--dry"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )  # no time limit: bounded work (tiny sizes), which a busy machine may run slowly
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "**This run had no GPU** (--dry)" in text
    assert "## CUDA-path tests (`pytest -m cuda`): exit code 0" in text
    for heading in (
        "## Training steps",
        "## Noise dump",
        "## SDE engine",
        "## Stable sampler",
        "## Estimate of config/paper.yaml on one GPU",
    ):
        assert heading in text
    for case in ("| M=1 tiled |", "| M=16 tiled |", "| conv clean step |", "| M=16 lockstep |"):
        assert case in text
    # Every training run of config/paper.yaml is in the estimate, then its total.
    assert (
        "| sin_add | m16 | 60000 | 5 |" in text and "| svhn_conv | explicit | 36000 | 5 |" in text
    )
    assert "meaningless: no GPU" in text
    assert out.with_suffix(".json").exists()

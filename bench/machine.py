"""What a benchmark ran on: CPU model, cores, library versions, CUDA, load average."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def describe() -> dict:
    import numpy as np
    import scipy
    import torch

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "loadavg_start": os.getloadavg(),
    }


def write_results(stem: str, res: dict, markdown: Callable[[dict], str]) -> None:
    """bench/results/{stem}.json (every number) and .md (for reading), also printed; the end
    load average and total time are added by the caller before."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1))
    text = markdown(res)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)

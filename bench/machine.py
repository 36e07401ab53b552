"""What a benchmark ran on: CPU model, cores, library versions, CUDA, load average."""

from __future__ import annotations

import os
import platform
from pathlib import Path


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

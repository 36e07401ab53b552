"""The fixed cost of a pipeline job: starting Python and importing what its rule script imports.

    .venv/bin/python bench/fixed_cost.py [--repeats 3]

For every rule script in workflow/scripts/, runs a fresh interpreter that executes only the
script's `import` / `from ... import` lines (no work) and records its CPU seconds (user + sys,
from the child's rusage; the median of --repeats runs) and which heavy libraries it loaded.
Writes bench/results/fixed_cost.{json,md}. A training job pays this once per run (all seeds).

Imports a job pays later, at its first call, are measured too: a one-step training run in a
fresh interpreter beside torch's import alone, and the first calls of the torch APIs the
training loop used to make (torch.optim, torch.use_deterministic_algorithms), which import
torch's compiler stack.
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import describe, write_results

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
HEAVY = ("torch", "matplotlib", "scipy", "sklearn", "pandas", "pyarrow")


# Fresh-interpreter snippets: what a training job pays on its first step, beside torch alone.
_ONE_STEP = """
import torch
from gnitails.data.sinusoids import make_sinusoids
from gnitails.training import train_runs
exp = {"dataset": "sinusoids", "model": {"arch": "mlp", "width": 64, "depth": 4},
       "noise": {"mode": "additive", "sigma": 0.1},
       "training": {"rules": ["gni_m"], "m_values": [1], "lr": 0.2, "steps": 1}, "seeds": [0]}
data = make_sinusoids(seed=0, n_train=200, n_test=200, frequencies=[1, 2, 3])
import tempfile
with tempfile.TemporaryDirectory() as out:
    train_runs(exp, data, run="m1", out_dir=out, progress_every_s=1e9)
"""
_PARAM = "import torch\np = torch.zeros(3, requires_grad=True)\np.grad = torch.ones(3)\n"
FIRST_CALLS = {
    "import torch": "import torch",
    "a one-step training run (train_runs, m1)": _ONE_STEP,
    "torch.optim.SGD: first step (the old loop)": _PARAM + "torch.optim.SGD([p], lr=0.1).step()",
    "torch.use_deterministic_algorithms (the old loop)": "import torch\n"
    "torch.use_deterministic_algorithms(True, warn_only=True)",
}


def import_lines(script: Path) -> str:
    """The script's top-level import statements, as source."""
    tree = ast.parse(script.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(n) for n in nodes)


def child_cpu(code: str) -> tuple[float, str]:
    """CPU seconds of a fresh interpreter running ``code``, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    res = {"machine": describe(), "repeats": args.repeats, "scripts": {}}
    res["python_start"] = statistics.median([child_cpu("pass")[0] for _ in range(args.repeats)])
    for script in sorted(SCRIPTS.glob("*.py")):
        code = (
            import_lines(script)
            + f"\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
        )
        runs = [child_cpu(code) for _ in range(args.repeats)]
        res["scripts"][script.stem] = {
            "cpu_s": statistics.median(cpu for cpu, _ in runs),
            "heavy": runs[0][1].split(),
        }
    res["first_calls"] = {
        name: statistics.median(child_cpu(code)[0] for _ in range(args.repeats))
        for name, code in FIRST_CALLS.items()
    }
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["seconds"] = time.perf_counter() - t0
    write_results("fixed_cost", res, markdown)


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Fixed cost of a pipeline job (bench/fixed_cost.py)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['torch']}; "
        f"load average {m['loadavg_start'][0]:.1f} at start, {m['loadavg_end'][0]:.1f} at end. "
        f"CPU seconds of a fresh interpreter that only runs the rule script's imports (median of "
        f"{res['repeats']}); a bare interpreter takes {res['python_start']:.2f} s.",
        "",
        "| rule script | CPU s | heavy libraries loaded |",
        "|---|---:|---|",
    ]
    for name, r in res["scripts"].items():
        lines.append(f"| {name} | {r['cpu_s']:.2f} | {', '.join(r['heavy']) or '-'} |")
    lines += [
        "",
        "First calls, each in a fresh interpreter (CPU s, imports included):",
        "",
        "| what | CPU s |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {cpu:.2f} |" for name, cpu in res["first_calls"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

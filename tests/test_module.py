"""The workflow used as a Snakemake module by another workflow, from another folder, with a prefix.

The host folder is outside the repository and Python cannot import gnitails there by itself:
the module must find its library from its own location (workflow/rules/common.smk).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, SNAKEFILE, TEST_CONFIG

pytestmark = pytest.mark.workflow

# Real jobs of every kind the module needs to get right, without the whole test config:
# train and prepare_dataset (through fig_lm), dump_noise (through fig_noise_hist), two figures.
TARGETS = ("gni_fig_lm", "gni_fig_noise_hist")
FIGURES = ("fig_lm", "fig_noise_hist")

# Loaded by every Python process of the host run (through PYTHONPATH): takes the editable
# install's folder (a .pth entry holding a gnitails package) off sys.path, so that only the
# module's own sys.path entry, and Snakemake's for the rule scripts, can make gnitails importable.
HIDE_EDITABLE_INSTALL = """\
import os
import sys

def editable(p):
    package = os.path.join(p, "gnitails", "__init__.py")
    return not p.endswith("site-packages") and os.path.isfile(package)


sys.path[:] = [p for p in sys.path if not editable(p)]
"""

HOST_SNAKEFILE = f"""\
configfile: "config.yaml"


module gni:
    snakefile:
        {str(SNAKEFILE)!r}
    config:
        config


use rule * from gni as gni_*

import sys

import gnitails

print("gnitails imported from", gnitails.__file__, file=sys.stderr)
# Snakemake keeps the rules that stay local under a cluster executor in this set (there is no
# public accessor, and a local run reports every job as local).
print("local rules:", *sorted(workflow._localrules), file=sys.stderr)
"""


def host_env(site) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bindir = os.path.dirname(sys.executable)
    return {
        **env,
        "PYTHONPATH": str(site),
        "PYTHONNOUSERSITE": "1",
        "PATH": f"{bindir}{os.pathsep}{env['PATH']}",
    }


def test_runs_as_a_module_of_a_host_workflow(tmp_path):
    host, site = tmp_path / "host", tmp_path / "site"
    host.mkdir()
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE_EDITABLE_INSTALL)
    shutil.copy(TEST_CONFIG, host / "config.yaml")
    (host / "Snakefile").write_text(HOST_SNAKEFILE)
    env = host_env(site)

    plain = subprocess.run(
        [sys.executable, "-c", "import gnitails"], capture_output=True, text=True, env=env
    )
    assert plain.returncode != 0, "gnitails must not be importable in the host's environment"

    snakemake = os.path.join(os.path.dirname(sys.executable), "snakemake")
    # Targets first: --resources takes every name=value that follows it.
    cmd = [snakemake, *TARGETS, "--cores", "2", "--resources", "gpu=2"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=host)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]

    library = ROOT / "workflow" / "scripts" / "gnitails" / "__init__.py"
    assert f"gnitails imported from {library}" in output
    listed = next(line for line in output.splitlines() if line.startswith("local rules:"))
    local = set(listed.split()[2:])
    assert {"gni_all", "gni_fig_lm", "gni_fig_noise_hist", "gni_table_claims"} <= local, local
    assert not {"gni_train", "gni_dump_noise", "gni_prepare_dataset"} & local, local

    for rule in ("gni_prepare_dataset", "gni_train", "gni_dump_noise", *TARGETS):
        assert f"rule {rule}:" in output, f"no {rule} job ran"
    results = host / "results"
    for name in FIGURES:
        for ext in ("pdf", "png", "csv"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 0
    assert (host / "logs" / "train" / "sin_add" / "m4.log").exists()


def test_catalog_layout():
    """What snakedeploy and the workflow catalog look for, and the root Snakefile that only
    includes it (so there is one workflow, whichever file Snakemake picks)."""
    assert SNAKEFILE.is_file()
    root = (ROOT / "Snakefile").read_text()
    assert 'include: "workflow/Snakefile"' in root
    assert root.count("rule ") == 1 and "rules.all.input" in root  # the default target only
    assert (ROOT / "LICENSE").is_file() and (ROOT / "config" / "README.md").is_file()
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    assert catalog["usage"]["software-stack-deployment"]["conda"] is True
    assert catalog["usage"]["report"] is True

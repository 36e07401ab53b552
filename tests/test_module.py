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


def make_host(tmp_path, config: dict | None = None):
    """A host workflow folder using the module, and an environment without gnitails."""
    host, site = tmp_path / "host", tmp_path / "site"
    host.mkdir()
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE_EDITABLE_INSTALL)
    if config is None:
        shutil.copy(TEST_CONFIG, host / "config.yaml")
    else:
        (host / "config.yaml").write_text(yaml.safe_dump(config))
    (host / "Snakefile").write_text(HOST_SNAKEFILE)
    return host, host_env(site)


def run_host(host, env, *args):
    snakemake = os.path.join(os.path.dirname(sys.executable), "snakemake")
    return subprocess.run([snakemake, *args], capture_output=True, text=True, env=env, cwd=host)


def test_runs_as_a_module_of_a_host_workflow(tmp_path):
    host, env = make_host(tmp_path)
    plain = subprocess.run(
        [sys.executable, "-c", "import gnitails"], capture_output=True, text=True, env=env
    )
    assert plain.returncode != 0, "gnitails must not be importable in the host's environment"

    # Targets first: --resources takes every name=value that follows it.
    run = run_host(host, env, *TARGETS, "--cores", "2", "--resources", "gpu=2")
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


def test_bad_config_from_the_host_names_the_module_and_key(tmp_path, test_config):
    test_config["experiments"]["sin_add"]["training"]["lr"] = -1
    host, env = make_host(tmp_path, test_config)
    run = run_host(host, env, "-n")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "experiments.sin_add.training.lr: -1" in output, output[-3000:]
    assert "the config the host workflow passes to module 'gni'" in output
    assert "config/config.yaml" not in output  # the module's own file plays no part here

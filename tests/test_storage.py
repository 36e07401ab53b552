"""Every file a rule reads is declared: the workflow runs on a storage provider, stage by stage.

With `--default-storage-provider fs`, Snakemake moves every declared input and output through a
storage folder (the "remote") and gives each job local copies of its declared inputs only. The
test runs a small pipeline one rule after the next (prepare_dataset, train, dump_noise,
fit_stable, then a figure of the fits and a table of the training metrics) and empties the
working directory between stages: a rule that read a file it does not declare (a sibling of an
input, a path built from params or the config) finds nothing and fails. The fs plugin copies
with the `rsync` binary, which the test installs with apt (tools/ensure-debian-packages.sh)
where it is missing; without root or apt it is skipped with the reason, with CI=true it fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ensure_debian_commands, job_stats, snakemake

pytestmark = pytest.mark.workflow

EXPERIMENT, RUN, STEPS = "sin_add", "m1", 50
# A figure of the fits and a table of the training metrics.
PRODUCTS = ["fig_tail_index", "table_performance"]
# The training state is undeclared: it stays in the working directory, outside the storage.
STATE = f"train/{EXPERIMENT}/{RUN}/state/"
# One stage per rule, so that every file one rule passes to the next crosses the storage.
STAGES = [
    ({"prepare_dataset": 1}, ["results/data/sinusoids.npz"]),
    ({"train": 1}, [f"results/train/{EXPERIMENT}/{RUN}/models.pt"]),
    ({"dump_noise": 1}, [f"results/noise/{EXPERIMENT}/{RUN}/seed0/step{STEPS}.npz"]),
    ({"fit_stable": 1}, [f"results/fits/{EXPERIMENT}/{RUN}/seed0.parquet"]),
    (dict.fromkeys(PRODUCTS, 1), PRODUCTS),
]
# The declared outputs of those jobs: after the last stage, exactly these files are in storage.
STORED = {
    "data/sinusoids.npz",
    f"train/{EXPERIMENT}/{RUN}/metrics.parquet",
    f"train/{EXPERIMENT}/{RUN}/models.pt",
    f"noise/{EXPERIMENT}/{RUN}/seed0/step{STEPS}.npz",
    f"fits/{EXPERIMENT}/{RUN}/seed0.parquet",
    *(f"figures/fig_tail_index.{ext}" for ext in ("pdf", "png", "csv")),
    *(f"tables/table_performance.{ext}" for ext in ("csv", "md", "html")),
}


@pytest.fixture(scope="module")
def rsync():
    """The rsync binary the fs storage plugin calls."""
    ensure_debian_commands("the storage test", "rsync:rsync")


def small_config(config: dict) -> dict:
    """One dataset, one run and seed, one dumped step, fitted with one estimator."""
    exp = config["experiments"][EXPERIMENT]
    exp["training"] = {**exp["training"], "m_values": [int(RUN[1:])], "steps": STEPS}
    exp["noise_dump"] = {**exp["noise_dump"], "steps": ["last"]}
    exp["noise_dump"]["fit"] = {**exp["noise_dump"]["fit"], "estimators": ["ecf"]}
    exp["seeds"] = [0]
    return {
        "datasets": {exp["dataset"]: config["datasets"][exp["dataset"]]},
        "experiments": {EXPERIMENT: exp},
        "sde": {},
        "figures": {name: {"experiments": [EXPERIMENT]} for name in PRODUCTS},
    }


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_every_rule_reads_only_declared_files(tmp_path, test_config, rsync):
    workdir, remote = tmp_path / "work", tmp_path / "remote"
    config = tmp_path / "storage.yaml"
    config.write_text(yaml.safe_dump(small_config(test_config)))
    args = ["--cores", "2", "--resources", "gpu=2", "--configfile", str(config)]
    args += ["--replace-workflow-config", "--default-storage-provider", "fs"]
    args += ["--default-storage-prefix", str(remote)]
    # Where Snakemake keeps the jobs' local copies of the storage's results/.
    copies = workdir / ".snakemake" / "storage" / "fs" / remote.relative_to("/") / "results"
    for ran, targets in STAGES:
        # What a job finds in the working directory then comes from the storage alone.
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        run = snakemake(*args, *targets, workdir=workdir)
        out = run.stdout + run.stderr
        assert run.returncode == 0, f"stage {targets} failed:\n{out[-6000:]}"
        assert job_stats(out) == ran, out[-3000:]
        # Nothing written beside an output stayed behind among the local copies (an undeclared
        # file that storage would lose); only the training state stays in the working directory.
        assert not files_under(copies), files_under(copies)
        state = {f for f in files_under(workdir / "results") if f.startswith(STATE)}
        assert files_under(workdir / "results") == state
        assert bool(state) == ("train" in ran)
    assert files_under(remote / "results") == STORED
    assert (remote / "logs" / "train" / EXPERIMENT / f"{RUN}.log").read_text().strip()


def test_prepare_dataset_declares_every_raw_file_it_reads(tmp_path, mnist_config):
    """Downloads need the real files (and a network), so a dry run shows it: prepare_dataset
    declares the raw files beside the manifest, each the output of its own download job."""
    from gnitails.data.raw import raw_files

    args = ["-n", "--configfile", str(mnist_config), "--replace-workflow-config"]
    run = snakemake(*args, "results/data/mnist500.npz", workdir=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    folder = "resources/datasets/mnist"
    names = [raw.name for raw in raw_files("mnist")]
    assert job_stats(out) == {
        "download_raw": len(names),
        "download_dataset": 1,
        "prepare_dataset": 1,
    }
    prepare = out[out.index("rule prepare_dataset:") :].splitlines()[1]
    assert prepare == "    input: " + ", ".join(f"{folder}/{n}" for n in ["manifest.json", *names])

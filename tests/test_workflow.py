"""The workflow end to end, in a temporary directory, on the tiny test config; its report also
in headless Chromium (report_browser.py)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from selenium.common.exceptions import TimeoutException, WebDriverException

import report_browser
from conftest import TEST_CONFIG, ensure_debian_commands, skip_or_fail_in_ci, snakemake
from gnitails.data import load_prepared

pytestmark = pytest.mark.workflow
# No GPU here: let the GPU rules run side by side on the cores, as `make run` does.
TEST_ARGS = ("--configfile", str(TEST_CONFIG), "--replace-workflow-config", "--resources", "gpu=2")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


FIGURES = [
    "fig_noise_hist",
    "fig_forward_noise",
    "fig_tail_index",
    "fig_lm",
    "fig_replacement",
    "fig_r_vs_gni",
    "fig_sde_bias",
]
TABLES = ["table_tail_index", "table_performance", "table_claims", "table_explicit_effect"]
# The report scales a figure down to fit the pane beside its navbar. Tick labels (9.7 pt at the
# figures' 150 dpi: 20 px) stay 10 px high down to half size; a fourth 510-px panel in a row
# would go below (the widest figures, three panels, are shown at 0.55 in a 1280-px window).
MIN_FIGURE_SCALE = 0.5


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """The working directory of one full run of the test config (a few minutes: run once)."""
    workdir = tmp_path_factory.mktemp("pipeline")
    run = snakemake("--cores", "2", *TEST_ARGS, workdir=workdir)
    assert run.returncode == 0, run.stdout + run.stderr
    return workdir


@pytest.fixture(scope="module")
def report_html(pipeline) -> Path:
    """report.html of that run."""
    report = snakemake("--report", str(pipeline / "report.html"), *TEST_ARGS, workdir=pipeline)
    assert report.returncode == 0, report.stdout + report.stderr
    return pipeline / "report.html"


def test_pipeline_runs_resumes_nothing_and_is_byte_stable(pipeline):
    results = pipeline / "results"
    sin = load_prepared(results / "data" / "sinusoids.npz")
    assert sin.x_train.shape == (64, 1) and sin.x_test.shape == (32, 1)
    assert load_prepared(results / "data" / "digits.npz").meta["n_classes"] == 10
    for experiment in ("sin_add", "digits_mult"):
        for m in (1, 4):
            metrics = pd.read_parquet(results / "train" / experiment / f"m{m}" / "metrics.parquet")
            assert sorted(metrics["seed"].unique()) == [0, 1]
            assert (results / "train" / experiment / f"m{m}" / "models.pt").exists()
    assert (pipeline / "logs" / "prepare_dataset" / "digits.log").read_text().strip()
    assert (pipeline / "benchmarks" / "train" / "sin_add" / "m4.tsv").exists()
    products = sorted(
        [*results.glob("data/*.npz"), *results.glob("figures/*"), *results.glob("tables/*")]
    )
    expected = {f"{f}.{ext}" for f in FIGURES for ext in ("pdf", "png", "csv")}
    expected |= {f"{t}.{ext}" for t in TABLES for ext in ("csv", "md", "html")}
    assert {p.name for p in products} >= expected
    assert all(p.stat().st_size > 0 for p in products)
    first = {p: digest(p) for p in products}

    again = snakemake("--cores", "1", *TEST_ARGS, workdir=pipeline)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    forced = snakemake("--cores", "2", "--forceall", *TEST_ARGS, workdir=pipeline)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert {p: digest(p) for p in products} == first


def test_report_names_every_figure_and_table(report_html, pipeline):
    html = report_html.read_text(errors="replace")
    assert all(f"{name}.png" in html for name in FIGURES)
    assert all(f"{name}.html" in html for name in TABLES)  # tables shown, not downloaded
    assert all(f"{name}.csv" in html for name in FIGURES)
    claims = (pipeline / "results" / "tables" / "table_claims.md").read_text()
    assert "larger M lowers the clean training loss" in claims


@pytest.fixture(scope="session")
def chromium() -> None:
    """Debian's Chromium and chromedriver, installed if missing."""
    if os.environ.get("GNITAILS_BROWSER_TEST") == "0":
        pytest.skip("disabled with GNITAILS_BROWSER_TEST=0")
    ensure_debian_commands("the browser test", "chromium:chromium", "chromedriver:chromium-driver")


@pytest.fixture
def browser(chromium, tmp_path):
    log = tmp_path / "chromedriver.log"
    try:
        driver = report_browser.start_chromium(tmp_path / "profile", log)
    except WebDriverException as exc:
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        skip_or_fail_in_ci(f"Chromium did not start: {exc.msg}\n{detail}", "the browser test")
    try:
        yield driver
    finally:
        driver.quit()


def check_report(report: report_browser.Report, workdir: Path) -> list[str]:
    """What is wrong with how the report shows our tables and figures (nothing: [])."""
    problems = []

    def check(path: str, what) -> None:
        try:
            what(path)
        except (AssertionError, TimeoutException) as exc:
            problems.append(f"{path}: {getattr(exc, 'msg', None) or exc}")

    def table(stem: str) -> None:
        # Looked up by name, whatever its suffix: one registered as Markdown must fail as a
        # download, not as missing.
        rows, text = report.table(report.named(stem))
        page = (workdir / f"{stem}.html").read_text()
        assert rows == page.count("<tr>") - page.count("<thead>") > 0, f"{rows} rows shown"
        if stem.endswith("table_claims"):
            assert "larger M lowers the clean training loss" in text, text[:500]

    def figure(path: str) -> None:
        fig = report.figure(path)
        assert fig.natural_width > 0, "the image does not decode"
        assert not fig.pane_overflows, f"wider than the pane: {fig}"
        assert fig.pane_left <= fig.left and fig.right <= fig.pane_right <= fig.window, fig
        assert fig.scale >= MIN_FIGURE_SCALE, f"shrunk to {fig.scale:.2f} of its size: {fig}"

    def csv(path: str) -> None:
        name, data = report.download(path)
        assert name == Path(path).name, name
        assert data == (workdir / path).read_bytes(), "the link holds other bytes"

    for name in TABLES:
        check(f"results/tables/{name}", table)
    for name in FIGURES:
        check(f"results/figures/{name}.png", figure)
        check(f"results/figures/{name}.csv", csv)
    return problems


@pytest.mark.browser
def test_report_shows_every_table_and_figure(report_html, pipeline, browser):
    """Opened in a 1280-px Chromium window: every table is shown inline as an HTML table with
    all its rows, every figure as an image that fits the content pane beside the navbar at no
    less than MIN_FIGURE_SCALE, and every figure's CSV is a download link holding its bytes."""
    report = report_browser.Report(browser, report_html)
    problems = check_report(report, pipeline)
    checked = {  # what check_report finds when all is well
        *(f"results/tables/{t}.html" for t in TABLES),
        *(f"results/figures/{f}.{ext}" for f in FIGURES for ext in ("png", "csv")),
    }
    unchecked = sorted(set(report.results) - checked)
    problems += [f"{path}: registered, but no check looks at it" for path in unchecked]
    assert not problems, "\n".join(problems)


def test_one_figure_rebuilds_only_itself(tmp_path):
    """`snakemake fig_lm` plans the figure and what it needs, nothing of other figures."""
    run = snakemake("-n", "fig_lm", *TEST_ARGS, workdir=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "fig_lm" in run.stdout and "table_performance" not in run.stdout


def test_dry_runs_of_shipped_configs(tmp_path, root):
    for names in (("config.yaml",), ("paper.yaml",), ("config.yaml", "fast.yaml")):
        name = " + ".join(names)
        files = [str(root / "config" / n) for n in names]
        run = snakemake("-n", "--configfile", *files, "--replace-workflow-config", workdir=tmp_path)
        assert run.returncode == 0, f"{name}: {run.stderr}"
        assert "prepare_dataset" in run.stdout
        # Costliest first: an L~_M training job's priority is M (common.smk train_priority).
        pairs = re.findall(r"run=m(\d+)\n\s+priority: (\d+)", run.stdout)
        assert pairs and all(m == p for m, p in pairs), f"{name}: {pairs}"
        assert {int(m) for m, _ in pairs} >= {1, 16}
        # ... and the data jobs outrank them all (priorities do not pass on to dependencies).
        data = re.findall(r"wildcards: dataset=\w+\n\s+priority: (\d+)", run.stdout)
        assert data and all(int(p) > max(int(m) for m, _ in pairs) for p in data), data


def test_invalid_config_fails_before_any_job(tmp_path, test_config):
    test_config["experiments"]["sin_add"]["noise"]["sigma"] = -0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(test_config))
    run = snakemake(
        "--cores", "1", "--configfile", str(bad), "--replace-workflow-config", workdir=tmp_path
    )
    assert run.returncode != 0
    assert "experiments.sin_add.noise.sigma: -0.5" in run.stderr
    assert not (tmp_path / "results").exists()


def test_malformed_yaml_is_refused(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("datasets: [unclosed\n")
    run = snakemake("-n", "--configfile", str(bad), "--replace-workflow-config", workdir=tmp_path)
    assert run.returncode != 0 and "not valid JSON or YAML" in run.stdout + run.stderr
    # Snakemake's own message does not name the file, so `make run` checks the config first:
    check = subprocess.run(
        [sys.executable, "-m", "gnitails.config", str(bad)], capture_output=True, text=True
    )
    assert check.returncode == 2 and f"{bad} is not valid YAML" in check.stderr


def test_snakemake_refuses_a_duplicate_key_as_the_validator_does(tmp_path, root):
    text = (root / "config" / "config.yaml").read_text()
    dup = tmp_path / "dup.yaml"
    dup.write_text(text.replace("      lr: 0.2\n", "      lr: 0.2\n      lr: 0.3\n", 1))
    run = snakemake("-n", "--configfile", str(dup), "--replace-workflow-config", workdir=tmp_path)
    assert run.returncode != 0 and "duplicate key 'lr'" in run.stdout + run.stderr
    check = subprocess.run(
        [sys.executable, "-m", "gnitails.config", str(dup)], capture_output=True, text=True
    )
    assert check.returncode == 2 and "duplicate key 'lr'" in check.stderr


def test_offline_download_fails_fast_naming_the_folder(tmp_path, mnist_config):
    # Point every mirror at a closed loopback port: the same failure as a machine offline.
    run = snakemake(
        "--cores",
        "1",
        "--retries",
        "0",
        "--configfile",
        str(mnist_config),
        "--replace-workflow-config",
        workdir=tmp_path,
        env={"GNITAILS_DATA_MIRROR": "http://127.0.0.1:9/"},
    )
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "mnist: cannot download" in out and "resources/datasets/mnist" in out
    assert not (tmp_path / "resources" / "datasets" / "mnist" / "manifest.json").exists()
    assert not list(tmp_path.rglob("*.gz")), "a partial download was left behind"

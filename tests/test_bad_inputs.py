"""Bad input files: every reader names the file, says what is wrong and how to rebuild it."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from gnitails.errors import InputFileError
from gnitails.noise.dumpfile import DUMP_FORMAT, load_dump, save_dump
from gnitails.runlog import rule_logging


@pytest.fixture
def good_dump(tmp_path):
    path = tmp_path / "step0.npz"
    arrays = {"z_mc/weight/1": np.ones((4, 3, 2), np.float32)}
    save_dump(path, arrays, {"format": DUMP_FORMAT, "experiment": "e"})
    return path


def test_a_good_dump_loads(good_dump):
    arrays, meta = load_dump(good_dump)
    assert meta["experiment"] == "e" and arrays["z_mc/weight/1"].shape == (4, 3, 2)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable"),
        (lambda p: p.write_bytes(b""), "not a readable"),
        (lambda p: p.write_text("hello"), "not a readable"),
        (lambda p: np.savez(p, x=np.zeros(3)), "not a noise dump"),
    ],
    ids=["truncated", "empty", "text", "foreign-npz"],
)
def test_damaged_dumps_name_the_file_and_the_rebuild(good_dump, damage, message):
    damage(good_dump)
    with pytest.raises(InputFileError, match=message) as info:
        load_dump(good_dump)
    assert str(good_dump) in str(info.value)
    assert "--forcerun" in str(info.value)


def test_a_dump_with_non_finite_values_is_an_error_not_a_nan_fit(tmp_path):
    path = tmp_path / "d.npz"
    arr = np.ones((4, 3), np.float32)
    arr[1, 2] = np.nan
    save_dump(path, {"z_mc/weight/1": arr}, {"format": DUMP_FORMAT})
    with pytest.raises(InputFileError, match=r"z_mc/weight/1 holds 1 non-finite"):
        load_dump(path)


def test_a_dump_of_another_format_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    save_dump(path, {"z_mc/weight/1": np.ones((2, 2), np.float32)}, {"format": "old"})
    with pytest.raises(InputFileError, match="format 'old'"):
        load_dump(path)


def test_rule_scripts_log_expected_errors_as_one_line(tmp_path, caplog):
    log = tmp_path / "rule.log"
    smk = SimpleNamespace(log=[str(log)], rule="fit_stable")
    with pytest.raises(SystemExit) as info, rule_logging(smk):
        raise InputFileError("results/noise/x.npz: truncated")
    assert info.value.code == 1
    text = log.read_text()
    assert "fit_stable failed: results/noise/x.npz: truncated" in text
    assert "Traceback" not in text
    logging.getLogger("gnitails").handlers.clear()


def test_rule_scripts_log_progress_to_the_log_and_one_line_to_the_terminal(tmp_path, capsys):
    log = tmp_path / "rule.log"
    smk = SimpleNamespace(log=[str(log)], rule="train", wildcards={"experiment": "e", "run": "m1"})
    with rule_logging(smk) as logger:
        logger.info("step 10/100")
        logger.warning("something odd")
    err = capsys.readouterr().err
    assert "step 10/100" not in err and "something odd" in err
    assert err.strip().splitlines()[-1].startswith("train experiment=e run=m1: done in ")
    assert "step 10/100" in log.read_text() and "something odd" in log.read_text()
    logging.getLogger("gnitails").handlers.clear()

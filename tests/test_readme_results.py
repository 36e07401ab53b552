"""tools/readme_results.py: the README's results block is written from results/, not pasted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gnitails.claims import Claim, claims_frame, write_claims

TOOL = Path(__file__).resolve().parents[1] / "tools" / "readme_results.py"
spec = importlib.util.spec_from_file_location("readme_results", TOOL)
readme_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_results)


def fake_results(root: Path, verdicts: list[str], shift: float = 0.0) -> Path:
    tables = root / "tables"
    tables.mkdir(parents=True)
    (root / "figures").mkdir()
    (root / "figures" / "fig_a.png").write_bytes(b"png")
    claims = [
        Claim(f"claim {i}", "e", "evidence", 1.0 + i + shift, 0.5, 2.0, 10, v)
        for i, v in enumerate(verdicts)
    ]
    write_claims(claims_frame(claims), tables / "table_claims.csv", tables / "table_claims.md")
    return root


def test_block_is_replaced_from_results_and_spread_is_counted(tmp_path):
    a = fake_results(tmp_path / "a", ["reproduced", "inconclusive"])
    b = fake_results(tmp_path / "b", ["reproduced", "not reproduced"], shift=0.25)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\nold\n<!-- results:end -->\noutro\n")
    figures = tmp_path / "docs"
    figures.mkdir()
    args = ["--results", str(a), "--readme", str(readme), "--figures", str(figures)]
    assert readme_results.main([*args, "--also", str(b)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| claim 1 | e | evidence |" in text
    assert "1 of 2" in text and "claim 1 (e): inconclusive → not reproduced" in text
    assert "| 0.25 |" in text
    assert (figures / "fig_a.png").read_bytes() == b"png"
    assert "ξ against the real noise" not in text  # no replacement checks in these results
    assert readme_results.main([*args, "--also", str(b), "--check"]) == 0
    assert readme_results.main([*args, "--check"]) == 1  # without --also the block differs


def test_missing_results_name_the_file(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:begin --><!-- results:end -->")
    with pytest.raises(SystemExit, match="table_claims.csv not found"):
        readme_results.main(["--results", str(tmp_path / "nothing"), "--readme", str(readme)])


def test_replacement_checks_are_summarised_per_arm(tmp_path):
    import pandas as pd

    a = fake_results(tmp_path / "a", ["reproduced"])
    folder = a / "train" / "e" / "replace_s1"
    folder.mkdir(parents=True)
    checks = {"seed": [0, 0, 1, 1], "norm_ratio": [1.0, 2.0, 3.0, 2.0], "q99_ratio": [1.0] * 4}
    checks["q99_ratio"][1] = checks["q99_ratio"][3] = float("nan")
    pd.DataFrame(checks).to_parquet(folder / "replacement_checks.parquet")
    lines = readme_results.checks_block(a)
    assert lines[-1] == "| e | replace_s1 | 4 | 2 [1, 3] | 1 [1, 1] |"

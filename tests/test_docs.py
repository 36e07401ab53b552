"""Every ```python block in docs/*.md runs, so the pages cannot drift from the code.

Each block runs on its own (a reader copies one block, not the page) in an empty folder. A
block that cannot run here (it needs files the pipeline makes) is preceded by a line
`<!-- no-test: REASON -->`, and is reported as skipped with that reason. (`>>>` examples are
doctests: tests/test_stable_edges.py runs those of docs/stable.md.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
NO_TEST = re.compile(r"<!--\s*no-test:\s*(?P<reason>.*?)\s*-->")


def python_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(line of the first code line, code, skip reason or None) of each ```python block."""
    lines, blocks = path.read_text().splitlines(), []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            mark = NO_TEST.fullmatch(lines[i - 1].strip()) if i else None
            blocks.append((i + 2, "\n".join(lines[i + 1 : end]), mark and mark["reason"]))
            i = end
        i += 1
    return blocks


def cases():
    for path in sorted(DOCS.glob("*.md")):
        for line, code, skip in python_blocks(path):
            marks = [pytest.mark.skip(reason=f"{path.name}:{line}: {skip}")] if skip else []
            yield pytest.param(path, line, code, id=f"{path.name}:{line}", marks=marks)


CASES = list(cases())


def test_docs_have_python_blocks():
    assert len(CASES) >= 4  # a broken fence would silently drop blocks


@pytest.mark.parametrize(("path", "line", "code"), CASES)
def test_python_block_runs(path, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Padded so that a traceback names the line of the page.
    exec(compile("\n" * (line - 1) + code, str(path), "exec"), {"__name__": "__docs__"})


def test_no_test_marks_give_a_reason():
    for path in DOCS.glob("*.md"):
        for n, text in enumerate(path.read_text().splitlines(), 1):
            if "no-test" in text:
                mark = NO_TEST.fullmatch(text.strip())
                assert mark and mark["reason"], f"{path.name}:{n}: write <!-- no-test: REASON -->"

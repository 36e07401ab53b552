"""The tables' Markdown as a standalone HTML page, so the Snakemake report shows a table in
place instead of offering a Markdown file to download."""

from __future__ import annotations

import html
import re
from pathlib import Path

from gnitails.atomic import write_bytes

STYLE = (
    "body{font-family:sans-serif;font-size:14px;margin:1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 6px;"
    "vertical-align:top}th{background:#eee}"
)
_PIPE = re.compile(r"(?<!\\)\|")  # a cell separator; "\|" is a pipe inside a cell


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [html.escape(c.strip().replace("\\|", "|")) for c in _PIPE.split(inner)]


def markdown_to_html(text: str) -> str:
    """Headings (#), paragraphs and pipe tables, the subset our tables are written in."""
    out, table, para = [], [], []

    def flush() -> None:
        if para:
            out.append(f"<p>{html.escape(' '.join(para))}</p>")
            para.clear()
        if table:
            head, body = table[0], table[2:]  # row 1 is the |---| rule
            out.append("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>")
            out.append("</thead><tbody>")
            out.extend("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
            out.append("</tbody></table>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            if para:
                flush()
            table.append(_cells(line))
        elif not line.strip():
            flush()
        elif line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        else:
            if table:
                flush()
            para.append(line.strip())
    flush()
    title = next((line.lstrip("# ") for line in text.splitlines() if line.startswith("#")), "")
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )


def write_html(markdown: str | Path, out: str | Path) -> None:
    """The HTML page of the Markdown file ``markdown`` (written atomically to ``out``)."""
    write_bytes(out, markdown_to_html(Path(markdown).read_text()).encode())

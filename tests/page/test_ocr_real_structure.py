"""Structure of real pages read by OCR alone (the text layer ignored, ``--ocr always``): list
items and paragraphs inside the layout model's text regions, code blocks, contents entries.

The pages are test fixtures cut from Debian documentation packages (tests/data/real, with
their origin and licence); the real layout and OCR models read them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

REAL = Path(__file__).parents[1] / "data" / "real"


@pytest.fixture(scope="module")
def ocr_markdown() -> dict[str, str]:
    from docfleet import Fleet
    from docfleet.jobs.run.config import DocumentOptions
    from docfleet.jobs.run.job import map_pages, page_tasks

    names = ["reportlab-bullets.pdf", "sphinx-code-blocks.pdf", "toc-dot-leaders.pdf"]
    opts = DocumentOptions(ocr="always", pipeline="layout+ocr")
    fleet = Fleet(devices="cpu", workers="thread", replicas=1, progress=False)
    out = {}
    for result in map_pages(fleet, page_tasks([REAL / n for n in names], opts), opts):
        assert result.ok, result.error
        out[Path(result.value["document"]).name] = result.value["markdown"]
    return out


def test_a_scanned_lists_items_and_paragraphs_are_told_apart(ocr_markdown):
    md = ocr_markdown["reportlab-bullets.pdf"]
    for item in (
        "What is Python?",
        "How do I get everything set up and running?",
        "Dynamic PDF generation on the web",
        "Going from XML to PDF in one step",
    ):
        assert re.search(rf"^- {re.escape(item)}", md, re.M), item  # fmt: skip
    paragraphs = [p for p in md.split("\n\n") if p and p[0] not in "#-<"]
    starts = [p.split()[0:4] for p in paragraphs]
    for opening in (
        ["This", "manual", "does", "not"],
        ["We", "need", "your", "help"],
        ["In", "this", "chapter,", "we"],
    ):
        assert opening in starts, (opening, starts)  # fmt: skip
    assert not any("What is Python?" in p for p in paragraphs)  # items are not prose


def test_scanned_shell_lines_stay_code_line_by_line(ocr_markdown):
    md = ocr_markdown["sphinx-code-blocks.pdf"]
    blocks = re.findall(r"```\n(.*?)\n```", md, re.S)
    code_lines = [ln.strip() for b in blocks for ln in b.splitlines()]
    assert 'export DEBFULLNAME="Bob Dobbs"' in code_lines, md[:900]
    assert 'export DEBEMAIL="subgenius@example.com"' in code_lines
    prose = [p for p in md.split("\n\n") if not p.startswith("```")]
    assert not any("export DEB" in p for p in prose)  # not run into the paragraph above
    assert any(p.startswith("Now save the file") for p in prose)


def test_a_scanned_contents_page_keeps_one_entry_a_line(ocr_markdown):
    md = ocr_markdown["toc-dot-leaders.pdf"]
    entries = re.findall(r"^- .+ … [0-9ivxlc]+$", md, re.M | re.I)  # OCR reads "XXV" too
    assert len(entries) >= 25, md[:800]
    assert "- Preface … xxiii" in entries or any(e.startswith("- Preface") for e in entries)
    run_on = [p for p in md.split("\n\n") if p and not p.startswith(("- ", "#"))]
    assert all(len(re.findall(r"\b(?:x{0,3}[iv]{1,4}|\d{1,3})\b", p)) < 4 for p in run_on), run_on

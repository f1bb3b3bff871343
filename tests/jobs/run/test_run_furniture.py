"""``docfleet run`` leaves page furniture out of each document's Markdown (``--keep-furniture``
keeps it) and types it in pages.jsonl, whose ``text`` keeps every word."""

from __future__ import annotations

import json
import os
import re
from functools import partial
from pathlib import Path

import pytest
from docs_factory import Span, reportlab_pdf

CPU = ("--devices", "cpu", "--no-progress")
HEAD = "Internal notes of the widget team. Please do not circulate."
#: booktabs' manual (18 pages, each ending in a lone page number 17% above the foot) where
#: benchmarks/real_corpus.py unpacked Debian's texlive-latex-recommended-doc package.
CORPUS = Path(os.environ.get("DOCFLEET_CORPUS", "/work/corpus"))
BOOKTABS = "debian/root/texlive-latex-recommended-doc_*/usr/share/doc/texlive-doc/latex/booktabs"


@pytest.fixture
def docfleet(cli):
    return partial(cli, "run", timeout=240)


def pages(out: Path) -> list[dict]:
    lines = (out / "pages.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda r: r["page"])


def notes(path: Path) -> Path:
    """Three pages under a running head shaped like a sentence: no single page calls it
    furniture, the document does."""
    body = ["Widgets are small parts.", "This page says how many we made.", "That is all."]
    return reportlab_pdf(path, [
        [Span(HEAD, 72, 750, "Helvetica", 9),
         Span(f"Widget report {n}", 72, 680, "Helvetica-Bold", 16),
         *(Span(f"{t} Page {n}.", 72, 650 - 15 * i, "Times-Roman", 11)
           for i, t in enumerate(body))]
        for n in (1, 2, 3)
    ])  # fmt: skip


def test_a_running_head_the_pages_repeat_leaves_the_markdown(docfleet, tmp_path):
    pdf = notes(tmp_path / "notes.pdf")
    out = tmp_path / "out"
    assert docfleet(str(pdf), "-o", str(out), *CPU).returncode == 0
    records = pages(out)
    heads = [next(b for b in r["blocks"] if b["text"] == HEAD) for r in records]
    assert heads[0]["type"] == "text" and heads[0]["edge"] == "top"  # written before page 2
    assert [h["type"] for h in heads[1:]] == ["header", "header"]
    assert all(HEAD in r["text"] for r in records)  # the plain text keeps every word
    markdown = (out / "documents" / "notes.pdf.md").read_text(encoding="utf-8")
    assert HEAD not in markdown
    assert markdown.count("Widgets are small parts.") == 3

    kept = tmp_path / "kept"
    assert docfleet(str(pdf), "-o", str(kept), "--keep-furniture", *CPU).returncode == 0
    markdown = (kept / "documents" / "notes.pdf.md").read_text(encoding="utf-8")
    assert markdown.count(HEAD) == 3
    assert [r["blocks"] for r in pages(kept)] == [r["blocks"] for r in records]


def test_booktabs_page_numbers_leave_the_markdown(docfleet, tmp_path):
    found = sorted(CORPUS.glob(f"{BOOKTABS}/booktabs.pdf"))
    if not found:
        pytest.skip(f"no booktabs.pdf under {CORPUS}/{BOOKTABS} (benchmarks/real_corpus.py)")
    out = tmp_path / "out"
    assert docfleet(str(found[0]), "-o", str(out), *CPU).returncode == 0
    records = pages(out)
    assert len(records) == 18
    numbers = [[b["text"] for b in r["blocks"] if b["type"] == "footer"] for r in records]
    assert numbers == [[str(r["page"])] for r in records]
    markdown = (out / "documents" / "booktabs.pdf.md").read_text(encoding="utf-8")
    lone = re.findall(r"^\d{1,2}$", markdown, re.M)
    assert lone == [], lone

"""benchmarks/page_structure.py: its hand annotations are well formed and documented, and its
scores count what they say (splits, merges, wrong types, contents entries) on made-up Markdown;
no model runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("rapidfuzz")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from common.block_scores import damaged, markdown_blocks, score_page, totals  # noqa: E402

PAGES = BENCHMARKS / "structure_pages"
TYPES = {"heading", "paragraph", "item", "contents", "code", "table", "caption", "formula", "other"}


def test_every_annotation_is_well_formed_and_listed_with_its_licence():
    files = sorted(PAGES.glob("*.json"))
    assert len(files) >= 30
    readme = (PAGES / "README.md").read_text()
    for path in files:
        page = json.loads(path.read_text())
        assert page["id"] == path.stem
        assert page["package"] and page["path"] and page["page"] >= 1
        assert f"| `{page['id']}` |" in readme, page["id"]  # origin and licence
        assert page["blocks"]
        for block in page["blocks"]:
            assert block["type"] in TYPES, (page["id"], block)
            if block["type"] in ("heading", "paragraph", "item", "code", "contents"):
                assert block["text"].strip(), (page["id"], block)
            assert isinstance(block.get("printed", ""), str)
            if block["type"] == "item":
                assert block.get("level", 1) >= 1


REF = [
    {"type": "heading", "text": "1.2 What is the ReportLab PDF Library?"},
    {"type": "paragraph", "text": "This is a software library that lets you"},
    {"type": "paragraph", "text": "PDF is the global standard for electronic"},
    {"type": "item", "text": "Dynamic PDF generation on the web"},
    {"type": "item", "text": "Going from XML to PDF in one step"},
    {"type": "caption", "text": "Figure 1: The library"},
    {"type": "contents", "text": "Simple manipulations", "number": "2", "page": "8"},
]


def score(markdown: str) -> dict:
    return score_page(markdown_blocks(markdown), REF, markdown)


def test_a_faithful_page_scores_every_block_right():
    md = ("### 1.2 What is the ReportLab PDF Library?\n\nThis is a software library that lets"
          " you create.\n\nPDF is the global standard for electronic documents.\n\n- Dynamic PDF"
          " generation on the web\n- Going from XML to PDF in one step\n\n*Figure 1: The library*"
          "\n\n- 2 Simple manipulations … 8\n")  # fmt: skip
    s = score(md)
    assert s["heading"] == {"refs": 1, "made": 1, "right": 1}
    assert s["paragraph"] == {"refs": 2, "made": 2, "right": 2}  # the caption is left out
    assert s["item"] == {"refs": 2, "made": 2, "right": 2}  # the contents line is left out
    assert s["contents"] == {"entries": 1, "intact": 1}


def test_merged_paragraphs_and_items_run_into_prose_are_misses():
    md = (
        "1.2 What is the ReportLab PDF Library?\n\nThis is a software library that lets you"
        " create. PDF is the global standard for electronic documents. Dynamic PDF generation"
        " on the web\n\nGoing from XML to PDF in one step\n\nSimple manipulations\n\n8\n"
    )
    s = score(md)
    assert s["heading"]["right"] == 0 and s["heading"]["refs"] == 1
    # made: the heading, the merge, the item and the page number as prose; the contents title
    # alone matches a block not scored, so it is left out
    assert s["paragraph"]["right"] == 1 and s["paragraph"]["made"] == 4
    assert s["item"]["right"] == 0 and s["item"]["refs"] == 2
    assert s["contents"]["intact"] == 0
    figures = totals([s])
    assert figures["paragraph"]["precision"] == 0.25 and figures["paragraph"]["recall"] == 0.5
    assert figures["item"]["precision"] is None and figures["item"]["recall"] == 0.0


def test_a_paragraph_split_mid_sentence_costs_precision_not_recall():
    md = (
        "This is a software library that lets\n\nyou create documents.\n\n"
        "PDF is the global standard for electronic documents.\n"
    )
    s = score(md)
    assert s["paragraph"] == {"refs": 2, "made": 3, "right": 2}


def test_damaged_characters_are_counted_beyond_the_pages_own():
    assert damaged("a\ufffd b\x02c", "a b") == 2
    assert damaged("a\ufffd b", "a\ufffd b") == 0

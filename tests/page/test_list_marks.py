"""Bullets set in a column of their own stay with their items: never a column of "•", a
table of bullets, or a lone "•" paragraph (a real ReportLab page, and drawn lines)."""

from __future__ import annotations

from pathlib import Path

from docfleet.documents.sources import load_page
from docfleet.page.layout import text_layer_blocks
from docfleet.page.line_joins import split_gutters
from docfleet.page.types import PageTask, TextLine
from docfleet.stages.assemble import page_record

REAL = Path(__file__).parents[1] / "data" / "real"


def test_a_real_pages_bullets_open_list_items_and_nothing_else() -> None:
    task = PageTask(str(REAL / "reportlab-bullets.pdf"), "pdf", 1, 1)
    page = load_page(task, want_image=False, want_text_layer=True)
    page.text_source = "text-layer"
    record = page_record(page)
    markdown = record["markdown"]
    for item in ("What is Python?", "How do I get everything set up and running?",
                 "Dynamic PDF generation on the web", "Going from XML to PDF in one step"):
        assert f"\n- {item}" in markdown, item  # fmt: skip
    assert "•" not in markdown  # no lone bullets, none left at the end of a line
    assert "| " not in markdown  # no table of bullets and items
    items = [b for b in record["blocks"] if b["type"] == "list_item"]
    assert len(items) >= 8 and all(b["text"].startswith("•") for b in items)


def line(text: str, x0: float, y: float, parts: list[tuple[str, float, float]]) -> TextLine:
    pieces = tuple(TextLine(t, (a, y, b, y + 20), font_size=20) for t, a, b in parts)
    return TextLine(text, (x0, y, pieces[-1].bbox[2], y + 20), font_size=20, parts=pieces)


def test_a_mark_before_its_text_is_never_split_off_as_a_column() -> None:
    rows = [
        line(f"{mark} item number {k}", 100, 100 + 30 * k,
             [(mark, 100, 110), (f"item number {k}", 140, 400)])
        for k, mark in enumerate(["•", "(a)", "iv)", "•", "•"])
    ]  # fmt: skip
    assert [ln.text for ln in split_gutters(rows)] == [ln.text for ln in rows]
    blocks = text_layer_blocks(rows, 1000, 1400)
    assert [b.type for b in blocks] == ["list_item"] * 5


def test_items_set_in_further_are_nested_in_the_markdown() -> None:
    from docfleet.page.blocks import Block
    from docfleet.page.markdown import page_markdown

    def item(text: str, x: float, y: float) -> Block:
        block = Block("list_item", (x, y, x + 400, y + 20), 1.0)
        block.add(TextLine(text, (x, y, x + 400, y + 20)))
        return block

    blocks = [item("4. Rounded with these settings:", 100, 0), item("• Grain: 0.25", 140, 30),
              item("• Rounding type: lower", 141, 60), item("◦ deeper still", 180, 90),
              item("5. Back at the top", 101, 120)]  # fmt: skip
    assert page_markdown(blocks).split("\n") == [
        "4. Rounded with these settings:",
        "    - Grain: 0.25",
        "    - Rounding type: lower",
        "        - deeper still",
        "5. Back at the top",
    ]

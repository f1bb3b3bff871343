"""Blocks of OCR'd pages: lists inside the layout model's text regions, and their Markdown.

OCR lines carry no font, only boxes; the layout model marks a whole list as one text region.
The real page this mirrors is the scanned benchmark's mdwtab page (benchmarks/scanned_corpus.py).
"""

from __future__ import annotations

from docfleet.page.blocks import blocks_from_regions
from docfleet.page.layout import order_blocks
from docfleet.page.markdown import page_markdown
from docfleet.page.roles import assign_roles
from docfleet.page.types import Region, TextLine

WIDTH, HEIGHT = 1240, 1754


def ocr(text: str, y: float, x: float = 300, height: float = 26) -> TextLine:
    return TextLine(text, (x, y, x + 13 * len(text), y + height), score=0.95)


def page(lines: list[TextLine], regions: list[Region]) -> str:
    blocks = blocks_from_regions(regions, lines)
    assign_roles(blocks, WIDTH, HEIGHT)
    return page_markdown(order_blocks(blocks))


def test_bullets_in_a_text_region_become_list_items():
    lines = [
        ocr("It has several advantages over the official package:", 300),
        ocr("\u2022 The newcolumn system is properly integrated into the", 340),
        ocr("system, with no primitive column types.", 370, x=330),
        ocr("\u2022 You can define entirely different table-like", 410),
        ocr("environments using the equipment here.", 440, x=330),
    ]
    md = page(lines, [Region("text", (290, 295, 1100, 470), 0.9)])
    assert md.split("\n\n") == [
        "It has several advantages over the official package:",
        "- The newcolumn system is properly integrated into the system, with no primitive"
        " column types.\n"
        "- You can define entirely different table-like environments using the equipment here.",
    ]


def test_a_list_item_cut_by_its_region_goes_on_and_a_short_line_is_no_footnote():
    lines = [
        *(
            ocr(f"Body text of the page goes on here, line {i} of it.", 200 + 36 * i)
            for i in range(10)
        ),
        ocr("\u2022 I will do an example of", 600),
        ocr("this some time.", 636, height=21),  # no capital, no ascender: a lower box
    ]
    regions = [
        Region("text", (290, 195, 1100, 560), 0.9),
        Region("text", (290, 595, 1100, 628), 0.9),
    ]
    md = page(lines, regions)
    assert md.endswith("- I will do an example of this some time.")
    assert "> " not in md  # a footnote needs a number or a sign on an OCR'd page

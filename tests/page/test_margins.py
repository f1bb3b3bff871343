"""Page furniture on one page (``docfleet.page.margins``): running heads, footers and page
numbers typed ``header``/``footer`` and left out of the Markdown; code, large titles and text
that is not set apart stay in the body.

Real pages from tests/data/real (their README says where each came from) first, then the same
rules on lines placed on a 1240 x 1754 px page (A4 at 150 dpi), body text 22 px.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from docfleet.documents.sources import load_page
from docfleet.page.blocks import blocks_from_regions
from docfleet.page.layout import order_blocks, text_layer_blocks
from docfleet.page.margins import carries_page_number, page_number_value
from docfleet.page.markdown import page_markdown
from docfleet.page.roles import assign_roles
from docfleet.page.types import PageTask, Region, TextLine
from docfleet.stages.assemble import page_record

REAL = Path(__file__).parents[1] / "data" / "real"
WIDTH, HEIGHT = 1240, 1754
BODY = 22.0
PROSE = "the quick brown fox jumps over the lazy dog and keeps on running far away"


def record(name: str) -> dict:
    """The page record ``docfleet run --ocr auto`` writes for the page's text layer."""
    page = load_page(PageTask(str(REAL / name), "pdf", 1, 1), want_image=False,
                     want_text_layer=True)  # fmt: skip
    page.text_source = "text-layer"
    return page_record(page)


def typed(rec: dict, kind: str) -> list[str]:
    return [b["text"] for b in rec["blocks"] if b["type"] == kind]


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("table-booktabs.pdf", "2"),  # booktabs: a lone number 17% above the page's foot
        ("toc-dot-leaders.pdf", "ix"),  # memoir's roman front matter
        ("monospace-code.pdf", "81"),
        ("latex-ligatures.pdf", "38"),
    ],
)
def test_a_lone_page_number_at_the_foot_is_a_footer_left_out_of_the_markdown(name, number):
    rec = record(name)
    assert typed(rec, "footer") == [number]
    assert number in rec["text"].split("\n")  # the plain text keeps every word
    assert number not in rec["markdown"].split("\n")


def test_a_running_head_with_its_page_number_is_a_header_even_set_large_and_bold():
    rec = record("doxygen-listing.pdf")  # "208 File Documentation", bold, 1.2x the body
    assert typed(rec, "header") == ["208 File Documentation"]
    assert "File Documentation" not in rec["markdown"]


def test_code_at_the_page_top_and_a_large_title_stay_in_the_body():
    code = record("two-column-code.pdf")  # a code box's output line opens the right column
    assert typed(code, "header") == []
    assert "# [1] -10.6125 151.1522 -9.4659 201.8424 -6.2714" in code["markdown"]
    title = record("title-page-authors.pdf")  # the paper's title, 2.5x the body, at the top
    assert typed(title, "header") == []
    assert title["markdown"].startswith("## Extending R with C++: A Brief Introduction to Rcpp")


def line(text: str, y: float, *, x: float = 120, size: float | None = BODY, mono: bool = False,
         width: float | None = None) -> TextLine:  # fmt: skip
    right = x + (width if width is not None else 11 * len(text))
    return TextLine(text, (x, y, right, y + (size or BODY)), font_size=size, mono=mono)


def body(y: float, rows: int = 6, size: float | None = BODY) -> list[TextLine]:
    return [line(PROSE, y + i * 30, width=1000, size=size) for i in range(rows)]


def text_layer(lines: list[TextLine]) -> list[tuple[str, str]]:
    return [(b.type, b.text()) for b in text_layer_blocks(lines, WIDTH, HEIGHT)]


def test_a_code_line_at_the_foot_and_a_large_title_at_the_top_stay_in_the_body():
    lines = [
        line("A Study of Page Furniture", 60, x=400, size=40),  # in the top margin, large
        *body(200, rows=20),
        line("return furniture;", 1600, mono=True),  # the page's last line, set apart: code
    ]
    blocks = text_layer_blocks(lines, WIDTH, HEIGHT)
    kinds = {b.text(): b.type for b in blocks}
    assert kinds["A Study of Page Furniture"] == "title"
    assert kinds["return furniture;"] == "code"
    md = page_markdown(blocks)
    assert md.startswith("## A Study of Page Furniture") and "return furniture;" in md


def test_short_lines_set_apart_in_the_margins_are_furniture_and_sentences_are_not():
    lines = [
        line("Journal of Page Studies", 80),  # no number, short, two lines above the body
        *body(200, rows=20),
        line("Page 3 of 9", 1640, x=560),
    ]
    assert text_layer(lines)[0] == ("header", "Journal of Page Studies")
    assert text_layer(lines)[-1] == ("footer", "Page 3 of 9")
    sentence = [*body(200, rows=20), line("See the next section for how this is done.", 1640)]
    assert text_layer(sentence)[-1] == ("text", "See the next section for how this is done.")
    close = [line("Journal of Page Studies", 158), *body(200, rows=20)]  # a line's gap above
    assert text_layer(close)[0] == ("text", "Journal of Page Studies")


def ocr(text: str, y: float, x: float = 300, height: float = 26) -> TextLine:
    return TextLine(text, (x, y, x + 13 * len(text), y + height), score=0.95)


def ocr_page(lines: list[TextLine], regions: list[Region]) -> list[tuple[str, str]]:
    blocks = blocks_from_regions(regions, lines)
    assign_roles(blocks, WIDTH, HEIGHT)
    return [(b.type, b.text()) for b in order_blocks(blocks)]


def test_the_layout_models_header_is_kept_only_where_page_furniture_sits():
    paras = [ocr(f"Body text of the page goes on here, line {i} of it.", 400 + 36 * i)
             for i in range(20)]  # fmt: skip
    title = ocr("A Study of Page Furniture Across Documents", 250, height=52)
    code = ocr("return(boot_stat)", 1620)
    head = ocr("Physics Letters B 596 (2004) 303", 80)
    regions = [
        Region("header", (290, 245, 1000, 305), 0.8),  # a paper's title: large, not in the margin
        Region("footer", (290, 1615, 600, 1650), 0.7),  # code, at the foot
        Region("header", (290, 75, 800, 110), 0.9),  # the running head
        Region("text", (290, 395, 1100, 1120), 0.9),
    ]
    found = dict((text, kind) for kind, text in ocr_page([*paras, title, code, head], regions))
    assert found[title.text] == "title"
    assert found[code.text] == "text"
    assert found[head.text] == "header"


def test_a_page_number_a_text_region_took_in_becomes_a_footer():
    lines = [ocr(f"Body text of the slide, item {i} of it.", 400 + 36 * i) for i in range(8)]
    number = ocr("8", 1640, x=1150)
    blocks = ocr_page([*lines, number], [Region("text", (290, 395, 1200, 1670), 0.9)])
    assert blocks[-1] == ("footer", "8")
    assert all("8" not in text.split() for kind, text in blocks[:-1])


def test_page_number_shapes():
    values = [page_number_value(t) for t in ("12", "- 12 -", "Page 3 of 9", "iv", "xiv", "3.5")]
    assert values == [12, 12, 3, 4, 14, None]
    assert carries_page_number("Douglas Bates, Martin Mächler, Ben Bolker, Steve Walker 39")
    assert not carries_page_number("Release 4.6.2.0") and not carries_page_number("Version 1.04")

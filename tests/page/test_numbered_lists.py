"""A numbered list that goes on from the page before: its first item opens the page (after a
running head that ends with no full stop), and the numbers that follow it say it is a list."""

from __future__ import annotations

from docfleet.page.blocks import Block, paragraphs
from docfleet.page.ocr_paragraphs import split_region
from docfleet.page.types import TextLine

H = 20.0


def line(text: str, x0: float, y0: float, x1: float, *, size: float | None = H) -> TextLine:
    return TextLine(text, (x0, y0, x1, y0 + H), font_size=size)


ITEMS = [
    ("4. All the maintainer scripts except the postrm are removed.", 100, 0, 700),
    ("If we are not purging the package we stop here. Note that packages which", 130, 1.5, 1000),
    ("have no postrm are automatically purged when removed, as there is none.", 130, 2.5, 980),
    ("5. The conffiles and any backup files are removed.", 100, 4, 720),
    ("6. The package's file list is removed.", 100, 5.5, 560),
]


def test_the_first_item_of_a_list_going_on_from_the_page_before_is_an_item():
    head = line("Debian Policy Manual, Release 4.6.2.0", 100, 40, 600)
    body = [line(t, x, 100 + 26 * row, right) for t, x, row, right in ITEMS]
    blocks = paragraphs([head, *body], ordered=True)
    assert [(b.type, b.lines[0].text[:6]) for b in blocks[1:]] == [
        ("list_item", "4. All"),
        ("text", "If we "),
        ("list_item", "5. The"),
        ("list_item", "6. The"),
    ]


def test_a_number_alone_is_no_list_on_a_scan_but_a_run_of_them_is():
    lines = [TextLine(t, (x, 300 + 30 * row, right, 333 + 30 * row), 0.9)
             for t, x, row, right in ITEMS]  # fmt: skip
    block = Block("text", (90, 290, 1010, 520), 0.9)
    block.lines = lines
    parts = split_region(block)
    assert [p.type for p in parts if p.lines[0].text[:1].isdigit()] == ["list_item"] * 3
    alone = Block("text", (90, 290, 1010, 520), 0.9)
    alone.lines = [
        lines[0],
        *lines[1:3],
        TextLine("And then the text goes on.", (100, 400, 600, 433)),
    ]
    assert next(p.type for p in split_region(alone)) == "text"

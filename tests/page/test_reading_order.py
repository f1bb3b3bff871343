"""Blocks and reading order from boxes: columns, titles, regions, tables."""

from __future__ import annotations

from docfleet.page.blocks import blocks_from_regions, paragraphs, rows
from docfleet.page.layout import text_layer_blocks
from docfleet.page.reading_order import reading_order
from docfleet.page.types import Region, TextLine


def line(text, x0, y0, x1, y1, size=None):
    return TextLine(text, (x0, y0, x1, y1), 1.0, size)


def test_two_columns_under_a_full_width_title_read_column_by_column():
    boxes = [
        (600, 300, 1000, 500),  # right column, top
        (100, 100, 1000, 160),  # title across both columns
        (100, 300, 500, 500),  # left column, top
        (100, 520, 500, 700),  # left column, bottom
        (600, 520, 1000, 700),  # right column, bottom (same gap as the left one)
    ]
    assert reading_order(boxes) == [1, 2, 3, 0, 4]


def test_paragraphs_split_on_gaps_and_columns_and_find_titles():
    lines = [
        line("Big Heading", 100, 50, 600, 90, 40),
        line("left one", 100, 120, 480, 140, 20),
        line("left two", 100, 145, 470, 165, 20),
        line("right one", 560, 120, 900, 140, 20),
        line("right two", 560, 145, 880, 165, 20),
        line("left after gap", 100, 260, 480, 280, 20),
    ]
    blocks = text_layer_blocks(lines, width=1000, height=400)
    texts = sorted((b.type, b.text()) for b in blocks)
    assert texts == [
        ("text", "left after gap"),
        ("text", "left one\nleft two"),
        ("text", "right one\nright two"),
        ("title", "Big Heading"),
    ]


def test_lines_go_to_the_region_holding_them_and_duplicates_are_dropped():
    regions = [
        Region("title", (90, 40, 610, 100), 0.9),
        Region("header", (95, 42, 605, 98), 0.5),  # the same box, weaker: dropped
        Region("table", (90, 200, 700, 300), 0.8),
        Region("figure", (800, 200, 900, 300), 0.7),  # no text, kept
    ]
    lines = [
        line("Heading", 100, 50, 600, 90),
        line("a", 100, 210, 150, 230),
        line("b", 300, 210, 350, 230),
        line("c", 100, 250, 150, 270),
        line("d", 300, 250, 350, 270),
        line("stray note", 100, 400, 300, 420),
    ]
    blocks = blocks_from_regions(regions, lines)
    by_type = {b.type: b for b in blocks}
    assert set(by_type) == {"title", "table", "figure", "text"}
    assert by_type["table"].text() == "a\tb\nc\td"
    assert by_type["text"].text() == "stray note"
    assert by_type["figure"].text() == ""


def test_rows_keep_words_on_one_baseline_together():
    grouped = rows([line("world", 200, 10, 260, 30), line("hello", 100, 12, 180, 31)])
    assert [[ln.text for ln in row] for row in grouped] == [["hello", "world"]]


def test_rows_of_short_cells_make_a_table_read_row_by_row():
    cells = [
        line(text, 100 + 300 * c, 200 + 40 * r, 100 + 300 * c + 80, 220 + 40 * r)
        for r, row in enumerate([("Item", "Qty", "Price"), ("Apples", "12", "3.40")])
        for c, text in enumerate(row)
    ]
    prose = [line("A long line of prose under the table, as wide as the text.", 100, 400, 900, 420)]
    blocks = paragraphs(cells + prose)
    assert [b.type for b in blocks] == ["table", "text"]
    assert blocks[0].text() == "Item\tQty\tPrice\nApples\t12\t3.40"


def test_two_columns_of_prose_are_not_mistaken_for_a_table():
    lines = [line(f"left prose line {i}", 100, 100 + 25 * i, 480, 120 + 25 * i) for i in range(4)]
    lines += [line(f"right prose line {i}", 540, 100 + 25 * i, 920, 120 + 25 * i) for i in range(4)]
    assert {b.type for b in paragraphs(lines)} == {"text"}


def test_page_numbers_left_outside_a_contents_region_join_their_entries():
    region = Region("text", (100, 100, 600, 200), 0.9)
    lines = [
        line("1.1 Console basics", 110, 110, 400, 130),
        line("1.2 The shell prompt", 110, 150, 420, 170),
        line("1", 595, 110, 610, 130),  # the model's region stops short of the page numbers
        line("3", 595, 150, 610, 170),
    ]
    (block,) = blocks_from_regions([region], lines)
    assert block.text() == "1.1 Console basics\n1\n1.2 The shell prompt\n3"


def test_a_title_touching_the_line_beside_it_is_still_read_first():
    # a notes page: the title, then a heading below it and to the left whose box overlaps the
    # title's by a sliver (2 of 24 px): rows, not two columns side by side
    title = (180, 115, 311, 138)
    heading = (46, 136, 124, 162)
    body = (53, 170, 470, 250)
    assert reading_order([heading, title, body], band_overlap=0.2) == [1, 0, 2]
    assert reading_order([heading, title, body]) == [0, 1, 2]  # a text layer's boxes: columns

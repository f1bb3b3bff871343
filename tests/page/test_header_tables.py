"""Tables under a bold header row whose cells wrap (header_tables), on placed lines.

A 1240 x 1754 px page, lines 20 px high on a 25 px pitch. The real dblatex table this mirrors
is tests/data/real/docbook-wrapped-table.pdf (test_real_pages.py).
"""

from __future__ import annotations

from docfleet.page.header_tables import header_tables
from docfleet.page.types import TextLine


def line(text: str, x: float, y: float, *, bold: bool = False) -> TextLine:
    return TextLine(text, (x, y, x + 10 * len(text), y + 20), font_size=20.0, bold=bold)


def header(y: float) -> list[TextLine]:
    return [line("Option", 100, y, bold=True), line("Meaning", 400, y, bold=True)]


def test_top_aligned_wrapped_cells_join_their_rows():
    lines = [
        *header(100),
        line("--fast", 100, 130),
        line("skips the slow checks and writes", 400, 130),
        line("nothing to the log", 400, 155),
        line("--out DIR", 100, 185),
        line("where results go", 400, 185),
        line("--quiet", 100, 215),
        line("prints nothing but", 400, 215),
        line("errors, one a line,", 400, 240),
        line("to standard error", 400, 265),
        line("A paragraph of prose after the table runs across both columns.", 100, 330),
    ]
    tables, rest = header_tables(lines)
    assert len(tables) == 1
    assert tables[0].cells == [
        ["Option", "Meaning"],
        ["--fast", "skips the slow checks and writes nothing to the log"],
        ["--out DIR", "where results go"],
        ["--quiet", "prints nothing but errors, one a line, to standard error"],
    ]
    assert [ln.text for ln in rest] == [lines[-1].text]  # every other line is the table's


def test_centred_cells_go_to_the_row_they_are_centred_on():
    lines = [*header(100), line("a", 100, 155), line("b", 100, 255)]
    lines += [line(w, 400, y) for w, y in (("one", 130), ("two", 155), ("three", 180))]
    lines += [line(w, 400, y) for w, y in (("four", 242), ("five", 267))]
    tables, _ = header_tables(lines)
    assert tables[0].cells[1:] == [["a", "one two three"], ["b", "four five"]]


def test_rows_on_one_baseline_and_two_columns_of_prose_are_left_alone():
    single = [*header(100), line("--fast", 100, 130), line("quick", 400, 130)]
    single += [line("--slow", 100, 155), line("careful", 400, 155)]
    assert header_tables(single)[0] == []  # paragraphs() reads rows on one baseline
    words = "the quick brown fox jumps over the lazy dog again"
    prose = [line("Methods", 100, 100, bold=True), line("Results", 660, 100, bold=True)]
    prose += [line(words[: 40 - i % 3], 100, 130 + 25 * i) for i in range(8)]
    prose += [line(words[: 38 - i % 2], 660, 142 + 25 * i) for i in range(8)]
    assert header_tables(prose)[0] == []

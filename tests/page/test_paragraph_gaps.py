"""Paragraph breaks from the white between lines measured against the page's own line gap
(paragraphs set apart by a little space, not indented), and a list item ending where the
text goes back left of its hanging indent: on a real ReportLab page and on drawn lines."""

from __future__ import annotations

from pathlib import Path

from docfleet.documents.sources import load_page
from docfleet.page.blocks import paragraphs
from docfleet.page.types import PageTask, TextLine
from docfleet.stages.assemble import page_record

REAL = Path(__file__).parents[1] / "data" / "real"


def test_a_real_pages_paragraphs_and_lists_come_apart_where_the_page_sets_them_apart() -> None:
    task = PageTask(str(REAL / "reportlab-bullets.pdf"), "pdf", 1, 1)
    page = load_page(task, want_image=False, want_text_layer=True)
    page.text_source = "text-layer"
    paragraphs_out = page_record(page)["markdown"].split("\n\n")
    starts = [p.split()[0:3] for p in paragraphs_out if p.strip()]
    for opening in (["This", "manual", "does"], ["In", "this", "chapter,"],
                    ["We", "need", "your"], ["PDF", "is", "the"], ["Most", "of", "the"],
                    ["The", "ReportLab", "library"], ["In", "addition,", "because"]):
        assert opening in starts, opening  # fmt: skip
    item = next(p for p in paragraphs_out if "How do I get everything" in p)
    assert "We need your help" not in item  # the italic paragraph after the list is its own


def lines(gaps: list[float], height: float = 20.0, size: float = 20.0) -> list[TextLine]:
    out, y = [], 100.0
    for k, gap in enumerate([0.0, *gaps]):
        y += gap * height
        out.append(TextLine(f"words of line {k} run on here", (100, y, 900, y + height),
                            font_size=size))  # fmt: skip
        y += height
    return out


def test_a_gap_wider_than_the_pages_own_line_gap_ends_a_paragraph() -> None:
    tight = [0.1] * 4 + [0.6] + [0.1] * 4  # lines 0.1 apart, paragraphs 0.6 apart
    assert [len(b.lines) for b in paragraphs(lines(tight), ordered=True)] == [5, 5]
    loose = [0.6] * 9  # lines 0.6 apart everywhere: that is the page's line gap
    assert [len(b.lines) for b in paragraphs(lines(loose), ordered=True)] == [10]
    few = [0.1, 0.6]  # too few lines to know the page's gap: the fixed rule (0.8) decides
    assert [len(b.lines) for b in paragraphs(lines(few), ordered=True)] == [3]


def test_a_list_item_ends_where_the_text_goes_back_left_of_its_hanging_indent() -> None:
    def item_line(y: float, mark: bool) -> TextLine:
        text = TextLine("item text goes on", (160, y, 600, y + 20), font_size=20)
        if not mark:
            return text
        bullet = TextLine("\u2022", (100, y, 110, y + 20), font_size=20)
        return TextLine("\u2022 item text goes on", (100, y, 600, y + 20), font_size=20,
                        parts=(bullet, text))  # fmt: skip

    after = TextLine("A paragraph after the list", (100, 144, 700, 164), font_size=20)
    blocks = paragraphs([item_line(100, True), item_line(122, False), after], ordered=True)
    assert [(b.type, len(b.lines)) for b in blocks] == [("list_item", 2), ("text", 1)]


def test_a_bold_term_over_its_indented_description_is_no_heading() -> None:
    from docfleet.page.roles import assign_roles

    def at(text: str, x: float, y: float, bold: bool) -> TextLine:
        return TextLine(text, (x, y, x + 20 * len(text), y + 20), font_size=20, bold=bold)

    body = [at(f"running text of the page, line {k}", 100, 40 + 24 * k, False) for k in range(6)]
    term = at("virtual", 100, 240, True)
    description = at("New logind and default-logind virtual packages.", 160, 264, False)
    heading = at("Upgrading", 100, 340, True)
    after = at("The text under a heading starts where it does.", 100, 364, False)
    blocks = paragraphs([*body, term, description, heading, after], ordered=True)
    assign_roles(blocks, 1200, 1600)
    kinds = [(b.type, b.lines[0].text) for b in blocks]
    assert ("text", "virtual") in kinds  # the term and its description, one block
    assert ("title", "Upgrading") in kinds  # a bold line over its paragraph is still a heading

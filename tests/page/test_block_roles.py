"""Headings among a page's blocks: what makes a block a heading, and at which level.

Pure geometry over lines placed on a 1240 x 1754 px page (A4 at 150 dpi), body text 22 px.
Real pages exercise the same rules end to end in test_real_pages.py.
"""

from __future__ import annotations

from docfleet.page.blocks import Block, paragraphs
from docfleet.page.roles import assign_roles
from docfleet.page.types import TextLine

WIDTH, HEIGHT = 1240, 1754
BODY = 22.0
PROSE = "the quick brown fox jumps over the lazy dog and keeps on running far away"


def line(text: str, x: float, y: float, *, size: float | None = BODY, bold: bool = False,
         width: float | None = None) -> TextLine:  # fmt: skip
    height = size or BODY
    right = x + (width if width is not None else 11 * len(text))
    return TextLine(text, (x, y, right, y + height), font_size=size, bold=bold)


def body(y: float, rows: int = 6) -> list[TextLine]:
    return [line(PROSE, 120, y + i * 30, width=1000) for i in range(rows)]


def roles(lines: list[TextLine]) -> list[tuple[str, int, str]]:
    blocks = paragraphs(lines, ordered=True)
    assign_roles(blocks, WIDTH, HEIGHT)
    return [(b.type, b.level, b.text().split("\n")[0]) for b in blocks]


def test_a_bold_line_above_its_paragraph_is_a_heading_of_its_own():
    found = roles([*body(300), line("2.1.11 Pairlist objects", 120, 500, bold=True), *body(530)])
    assert ("title", 3, "2.1.11 Pairlist objects") in found
    assert [t for t, _, _ in found].count("text") == 2  # the paragraph below is not joined


def test_section_numbers_set_levels_the_same_whatever_the_size():
    found = roles([
        line("4 Tables", 120, 200, size=40),
        *body(260),
        line("4.8 Creating Tables", 120, 500, size=30),
        *body(550),
        line("4.8.1 Limitations", 120, 800, size=26),
        *body(840),
        line("Further reading", 120, 1100, size=26),
        *body(1140),
    ])  # fmt: skip
    titles = [(level, text) for kind, level, text in found if kind == "title"]
    assert titles == [
        (1, "4 Tables"),
        (2, "4.8 Creating Tables"),
        (3, "4.8.1 Limitations"),
        (3, "Further reading"),  # unnumbered: by size, 26 / 22 >= 1.1
    ]


def test_bold_header_cells_of_a_table_are_not_headings():
    header = [
        line("package", 140, 600, bold=True, width=72),
        line("popcon", 355, 600, bold=True, width=70),
        line("size", 480, 600, bold=True, width=40),
        line("description", 575, 600, bold=True, width=100),
    ]
    found = roles([*body(300), *header, *body(700)])
    assert all(kind != "title" for kind, _, _ in found)


def test_two_numbered_headings_side_by_side_open_two_columns():
    left = [line("3 Methods", 120, 200, bold=True), *[line(PROSE[:40], 120, 240 + i * 30,
             width=480) for i in range(8)]]  # fmt: skip
    right = [line("4 Results", 660, 200, bold=True), *[line(PROSE[:40], 660, 240 + i * 30,
             width=480) for i in range(8)]]  # fmt: skip
    titles = [text for kind, _, text in roles(left + right) if kind == "title"]
    assert titles == ["3 Methods", "4 Results"]


def test_page_numbers_and_bulleted_items_are_never_headings():
    found = roles([
        *body(300),
        line("\u2022 int perform (double overlap)", 140, 520, bold=True),
        *body(560),
        line("45", 600, 900, size=30),
        *body(960),
    ])  # fmt: skip
    assert all(kind != "title" for kind, _, _ in found)


def test_ocr_headings_take_levels_from_their_numbers():
    def ocr(text: str, y: float) -> TextLine:
        return TextLine(text, (120, y, 120 + 14 * len(text), y + 26), score=0.95)

    title = Block("title", (120, 100, 500, 130), 0.9, [ocr("4.8 Creating Tables", 100)])
    plain = Block("title", (120, 150, 500, 180), 0.9, [ocr("Introduction", 150)])
    numbered = Block("text", (120, 300, 700, 330), 0.9, [ocr("14.2.7 Table of Conversions", 300)])
    item = Block("text", (120, 400, 700, 430), 0.9, [ocr("1. Unpack the deb file", 400)])
    figure = Block("text", (120, 500, 700, 530), 0.9, [ocr("2.5 kg of flour were used.", 500)])
    prose = Block("text", (120, 600, 1100, 800), 0.9, [ocr(PROSE, 600 + 30 * i) for i in range(6)])
    blocks = [title, plain, numbered, item, figure, prose]
    assign_roles(blocks, WIDTH, HEIGHT)
    assert [(b.type, b.level) for b in blocks] == [
        ("title", 2),
        ("title", 0),  # the layout model's title, unnumbered: the default level
        ("title", 3),  # a line a dotted section number opens
        ("text", 0),  # a numbered list item
        ("text", 0),  # a sentence opening with a decimal number
        ("text", 0),
    ]


def test_a_large_contents_entry_with_its_page_number_apart_is_not_a_heading():
    title = line("2 Compiling and Linking", 120, 400, size=30, bold=True)
    page = line("2", 1100, 400, size=30, bold=True, width=15)
    entry = TextLine(
        "2 Compiling and Linking 2", (120, 400, 1115, 430), font_size=30, bold=True,
        parts=(title, page),
    )  # fmt: skip
    found = roles([*body(200), entry, *body(500)])
    assert ("toc", 0, "2 Compiling and Linking\t2") in found
    heading = roles([*body(200), line("5.4.8.1.1 Example 1", 120, 400, size=30), *body(500)])
    assert ("title", 5, "5.4.8.1.1 Example 1") in heading  # a number in its title is no page


def test_bold_monospaced_lines_at_the_body_size_are_code():
    code = TextLine("return s;", (140, 400, 240, 422), font_size=BODY, bold=True, mono=True)
    found = roles([*body(200), code, *body(500)])
    assert ("code", 0, "return s;") in found


def test_a_line_a_dotted_section_number_opens_is_a_heading_in_any_font():
    heading = line("5.9.2.1 Removing packages from Incoming", 120, 500)  # italic, body size
    found = roles([*body(300), heading, *body(540)])
    assert ("title", 4, "5.9.2.1 Removing packages from Incoming") in found
    version = line("2.5 kg of flour were used in the end.", 120, 500)
    assert ("text", 0, version.text) in roles([*body(300), version, *body(540)])


def test_a_chapter_label_its_number_and_title_are_one_heading():
    found = roles([
        line("CHAPTER", 900, 300, size=26, bold=True),
        line("ONE", 1000, 340, size=40, bold=True),
        line("FOREWORD", 120, 420, size=40, bold=True),
        *body(500),
    ])  # fmt: skip
    assert found[0][:2] == ("title", 1)
    assert [t for t, _, _ in found].count("title") == 1
    blocks = paragraphs([line("Chapter 3", 120, 300, size=30, bold=True),
                         line("Tables", 120, 360, size=40, bold=True), *body(460)],
                        ordered=True)  # fmt: skip
    assign_roles(blocks, WIDTH, HEIGHT)
    assert (blocks[0].type, blocks[0].level, blocks[0].text()) == ("title", 1, "Chapter 3\nTables")


def test_prose_among_smaller_code_is_not_a_heading():
    def code(y: float) -> TextLine:
        return TextLine("# mount -t ext4 /dev/loop0p1 /mnt", (140, y, 600, y + 18),
                        font_size=18.0, mono=True)  # fmt: skip

    prose = line("Alternatively, the device mapper does the same as follows.", 120, 500)
    found = roles([*(code(200 + 22 * i) for i in range(12)), prose,
                   *(code(560 + 22 * i) for i in range(12))])  # fmt: skip
    assert ("text", 0, prose.text) in found  # 22 px prose against 18 px code: not larger


def test_a_long_sentence_in_a_larger_size_is_not_a_heading():
    sentence = "This chapter explains how the tools fit together and which one to use first."
    found = roles([*body(200), line(sentence, 120, 500, size=26), *body(560)])
    assert ("text", 0, sentence) in found


def test_sentences_are_not_headings_however_they_are_set():
    large = 1.4 * BODY
    found = roles([
        line("Example 4.9 Inlined Equation. Its XML source is:", 120, 100, size=large),
        *body(160),
        line("is displayed in a separate block below", 120, 400, size=large),
        *body(460),
        line("The data frame may then be read as follows:", 120, 700, bold=True),
        *body(740),
        line("page.height", 120, 1000, size=large),
        *body(1060),
    ])  # fmt: skip
    kinds = {text: kind for kind, _, text in found}
    assert kinds["Example 4.9 Inlined Equation. Its XML source is:"] == "text"
    assert kinds["is displayed in a separate block below"] == "text"
    assert kinds["The data frame may then be read as follows:"] == "text"
    assert kinds["page.height"] == "title"  # a name in a larger size is still a heading


def test_a_contents_entry_with_two_leader_dots_is_no_heading():
    entry = line("2 Simple manipulations; numbers and vectors . . 8", 120, 300, size=1.3 * BODY,
                 bold=True)  # fmt: skip
    found = roles([*body(100), entry, *body(400)])
    assert ("toc", 0, entry.text) in found


def test_titles_that_look_like_sentences_at_first_stay_titles():
    large = 1.4 * BODY
    titles = ["zoo: An S3 Class and Methods for Indexed Totally Ordered Observations",
              "The Psychological and Auditory Impact of Serial vs. Aleatoric Music"]  # fmt: skip
    found = roles([line(titles[0], 120, 100, size=large), *body(160),
                   line(titles[1], 120, 400, size=large), *body(460)])  # fmt: skip
    assert {text: kind for kind, _, text in found if text in titles} == dict.fromkeys(
        titles, "title"
    )

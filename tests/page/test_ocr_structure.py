"""OCR page structure from boxes and text alone: paragraphs and list items inside one layout
region, code told from prose, contents lists cut into regions made whole, listings cut by a
blank line joined, a short line alone over a paragraph kept apart.

The boxes mirror the real scans of benchmarks/page_structure.py (200 dpi: OCR boxes about 33
px tall on a pitch of 26, so a box overlaps the next)."""

from __future__ import annotations

from docfleet.page.blocks import Block, paragraphs
from docfleet.page.code_blocks import join_code
from docfleet.page.layout import ocr_blocks
from docfleet.page.markdown import page_markdown, paragraph_markdown
from docfleet.page.ocr_code import code_line, code_runs
from docfleet.page.ocr_contents import ocr_contents
from docfleet.page.ocr_paragraphs import split_region
from docfleet.page.types import Region, TextLine

LEFT, RIGHT, PITCH, HEIGHT = 155, 1070, 26, 33


def ocr(text: str, row: float, x: float = LEFT, right: float | None = None) -> TextLine:
    """An OCR box on row ``row`` (a float: rows between rows are extra space)."""
    top = 300 + row * PITCH
    return TextLine(text, (x, top, right or min(RIGHT, x + 12 * len(text)), top + HEIGHT), 0.95)


def full(text: str, row: float, x: float = LEFT) -> TextLine:
    return ocr(text, row, x, RIGHT)


def region(lines: list[TextLine]) -> Block:
    block = Block("text", (LEFT - 5, 290, RIGHT + 5, 300 + 40 * PITCH), 0.9)
    block.lines = list(lines)
    return block


def kinds(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(b.type, b.lines[0].text.split()[0]) for b in blocks]


def test_a_region_is_cut_at_space_between_paragraphs_and_around_an_indented_list():
    lines = [
        full("This document is an introduction to the library. Some", 0),
        ocr("we tell you where to go for orientation.", 1),
        full("This manual does not cover all of the features, but", 2.4),  # space above
        ocr("to begin writing programs.", 3.4),
        ocr("In this chapter, we will cover the groundwork:", 4.8),
        ocr("What is ReportLab all about?", 5.8, x=270),
        ocr("What is Python?", 6.8, x=270),
        full("An embeddable print engine for other applications, including", 7.8, x=270),
        ocr("users can customize their own reports.", 8.8, x=270),
        full("We need your help to make sure this manual is complete", 9.8),
        ocr("signposted from the web site.", 10.8),
    ]
    assert kinds(split_region(region(lines))) == [
        ("text", "This"), ("text", "This"), ("text", "In"), ("list_item", "What"),
        ("list_item", "What"), ("list_item", "An"), ("text", "We"),
    ]  # fmt: skip


def test_a_first_line_indent_after_a_short_line_starts_a_paragraph_and_nothing_else_does():
    lines = [
        full("Lorem ipsum dolor sit amet, consetetur sadipscing elitr, sed", 0),
        full("diam nonumy eirmod tempor invidunt ut labore et dolore magna", 1),
        ocr("aliquyam erat.", 2),
        full("At vero eos et accusam et justo duo dolores et ea rebum.", 3, x=LEFT + 40),
        full("Stet clita kasd gubergren, no sea takimata sanctus est lorem", 4),
        full("ipsum dolor sit amet, consetetur sadipscing elitr, sed diam", 5),
    ]
    parts = split_region(region(lines))
    assert [len(p.lines) for p in parts] == [3, 3]
    assert all(p.type == "text" for p in parts)


def test_one_paragraph_stays_one_block():
    lines = [full(f"line {k} of a justified paragraph that runs across the column", k)
             for k in range(6)] + [ocr("and stops.", 6)]  # fmt: skip
    assert len(split_region(region(lines))) == 1


def test_code_lines_are_told_from_prose_by_their_text():
    for code in (
        "$ quilt push",
        "x <- c(10.4, 5.6, 3.1)",
        "export QUILT_PATCHES=debian/patches",
        "fill_rectangle [0, 60], 600, 20",
        "end",
        '<graphic fileref="figures/eq1"/>',
        "> print(crsurv, rmean=48, digits=2)",
    ):
        assert code_line(code), code  # fmt: skip
    for prose in (
        "Asymptote also defines bitwise functions int AND(int,int), int OR(int,int),",
        "Use glp_set_obj_dir() to set the direction of the objective function.",
        '2. Execute "package_name.preinst" using debconf(1)',
        "https://launchpad.net/~/+editsshkeys",
        "What is Python?",
    ):
        assert not code_line(prose), prose  # fmt: skip


def test_a_command_and_its_output_are_one_code_block_between_sentences():
    lines = [
        ocr("If you wanted to remove the patch you would run pop:", 0),
        ocr("$ quilt pop", 1.5, x=180),
        ocr("Removing patch kubuntu_01_fix_qmax_on_armel.diff", 2.5, x=180),
        ocr("No patches applied", 3.5, x=180),
        ocr("And to apply a patch you use push, as in the example here:", 5),
        ocr("export QUILT_PATCHES=debian/patches", 6.5, x=180),
    ]
    parts = code_runs(region(lines))
    assert [(p.type, len(p.lines)) for p in parts] == [
        ("text", 1),
        ("code", 3),
        ("text", 1),
        ("code", 1),
    ]  # a line introduced by a colon is code on its own


def test_code_inside_a_sentence_is_not_cut_out():
    lines = [
        full("The function returns the sum. Asymptote also defines bitwise", 0),
        full("functions int AND(int,int), int OR(int,int), int XOR(int,int),", 1),
        full("int NOT(int), int CLZ(int) (count leading zeros), and int", 2),
        ocr("bitreverse(int a, int bits) (reverse bits within a word).", 3),
    ]
    assert [p.type for p in code_runs(region(lines))] == ["text"]


def test_a_contents_list_cut_into_three_regions_is_made_one_contents_block():
    numbers = [ocr(f"2.3.{k}", k, x=230) for k in range(2, 8)]
    titles = [ocr(f"glp_set_{w} — set (change) the {w}", k, x=300)
              for k, w in zip(range(2, 8), "abcdef", strict=True)]  # fmt: skip
    pages = [ocr(str(18 + k // 2), k, x=1100) for k in range(2, 8)]
    blocks = []
    for lines in (numbers, titles, pages):
        block = Block("text", lines[0].bbox, 0.9)
        for line in lines:
            block.add(line)
        blocks.append(block)
    (toc,) = ocr_contents(blocks)
    assert toc.type == "toc"
    assert toc.rows()[0] == ["2.3.2", "glp_set_a — set (change) the a", "19"]
    md = page_markdown([toc])
    assert md.splitlines()[0] == "- 2.3.2 glp_set_a — set (change) the a … 19"


def test_contents_whose_page_numbers_ocr_lost_keep_their_lines_and_prose_does_not():
    entries = ["1.1 The R environment", "1.2 Related software", "1.3 R and statistics",
               "1.4 R and the window system", "1.5 Using R interactively … 3"]  # fmt: skip
    (toc,) = ocr_contents([region([ocr(t, k, x=215) for k, t in enumerate(entries)])])
    assert toc.type == "toc" and len(toc.rows()) == 5
    prose = region([full("2.5 kg of flour are mixed with the water and the salt until", 0),
                    full("the dough is smooth; then it rests for an hour or two in", 1),
                    ocr("a warm place.", 2)])  # fmt: skip
    assert [b.type for b in ocr_contents([prose])] == ["text"]


def test_a_listing_cut_by_a_blank_line_is_one_code_block():
    def code(lines: list[TextLine]) -> Block:
        block = Block("code", lines[0].bbox, 1.0)
        for line in lines:
            block.add(line)
        return block

    first = code([ocr("#include <Rcpp.h>", 0, x=180)])
    second = code([ocr("// [[Rcpp::export]]", 2, x=180), ocr("int f(int x) {", 3, x=180)])
    apart = code([ocr("return 0;", 9, x=180)])  # far below: another listing
    joined = join_code([first, second, apart])
    assert [len(b.lines) for b in joined] == [3, 1]


def test_a_short_line_alone_over_a_paragraph_is_kept_apart():
    def line(text: str, y: float, x0: float, x1: float, bold: bool = False) -> TextLine:
        return TextLine(text, (x0, y, x1, y + 20), font_size=20.8, bold=bold)

    lines = [
        line("Example 4.9 Inlined Equation", 271, 118, 372, bold=True),
        line("The formula C = a + bY is inlined in the paragraph. Its", 299, 118, 760),
        line("source follows here, and the paragraph goes on below it.", 327, 118, 760),
        line("C = a + bY", 608, 577, 721),  # a centred formula
        line("is displayed in a separate block. The XML source is:", 645, 118, 556),
    ]
    blocks = paragraphs(lines, ordered=True)
    assert [b.lines[0].text.split()[0] for b in blocks] == ["Example", "The", "C", "is"]
    heading = [
        line("Schoenberg —", 100, 118, 260, True),
        line("The Origins of Serial Pitch Organization", 126, 118, 600, True),
    ]
    assert len(paragraphs(heading, ordered=True)) == 1  # a heading set on two lines


def test_front_matter_labels_are_headings_and_a_lone_hash_is_escaped():
    lines = [
        TextLine("ABSTRACT", (100, 100, 220, 120), font_size=18.0),
        TextLine(
            "We study the thing, and we find that it holds in most cases that we",
            (100, 130, 1000, 150),
            font_size=18.0,
        ),
        TextLine("tried, which is more than we hoped.", (100, 155, 600, 175), font_size=18.0),
        TextLine("CCS CONCEPTS", (100, 200, 260, 220), font_size=18.0),
    ]
    from docfleet.page.layout import text_layer_blocks

    md = page_markdown(text_layer_blocks(lines, 1240, 1754))
    assert "### ABSTRACT" in md.splitlines() and "### CCS CONCEPTS" in md.splitlines(), md
    assert paragraph_markdown("text", 0, "#") == "\\#"


def test_an_ocr_page_puts_it_together():
    lines = [
        ocr("Now save the file and run the commands below, in order:", 0),
        ocr("$ . ~/.bashrc", 1.5, x=180),
        ocr("$ quilt applied", 2.5, x=180),
        full("By default all patches are applied already to checkouts or", 4),
        ocr("downloaded packages.", 5),
    ]
    regions = [Region("text", (LEFT - 5, 290, RIGHT + 5, 300 + 7 * PITCH), 0.9)]
    md = page_markdown(ocr_blocks(lines, regions, 1240, 1754))
    assert md.split("\n\n") == [
        "Now save the file and run the commands below, in order:",
        "```\n$ . ~/.bashrc\n$ quilt applied\n```",
        "By default all patches are applied already to checkouts or downloaded packages.",
    ]


def test_a_short_bold_ocr_line_alone_is_a_heading_and_a_bold_sentence_is_not():
    from dataclasses import replace

    lines = [
        replace(ocr("Installation of the API", 0), bold=True),
        full("The API is installed with the rest of the tool when it is built from", 1.5),
        ocr("its sources.", 2.5),
        replace(ocr("Note that this takes a while.", 4), bold=True),
        full("Removing the installation is as easy: run the command below and the", 5.5),
        ocr("files are gone.", 6.5),
    ]
    regions = [Region("text", line.bbox, 0.9) for line in lines[::3]] + [
        Region("text", (LEFT - 5, 300 + 1.4 * PITCH, RIGHT + 5, 300 + 3.6 * PITCH), 0.9),
        Region("text", (LEFT - 5, 300 + 5.4 * PITCH, RIGHT + 5, 300 + 7.6 * PITCH), 0.9),
    ]
    md = page_markdown(ocr_blocks(lines, regions, 1240, 1754))
    assert md.split("\n\n")[0] == "### Installation of the API"
    assert "Note that this takes a while." in md.split("\n\n")  # a sentence, not a heading


def test_short_paragraphs_set_apart_by_a_small_skip_are_cut_at_their_baselines():
    # Texinfo's paragraph skip is a third of a line; OCR boxes, padded unevenly, hide it
    # (bottoms jitter by 3 px), and a region of two-line paragraphs has as many steps
    # between paragraphs as within them: the baselines read from the pixels show it.
    texts = ["A list of graphic handles can also be passed as the first", "argument too.",
             "Additionally, material can be called with one output argument", "as well.",
             "For more control, the light position can be specified by an", "angle.",
             "The optional string style specifies whether the light is", "local."]  # fmt: skip
    base, lines = 300.0, []
    for i, text in enumerate(texts):
        base += 27 if i % 2 else (35 if i else 0)  # 27 px within, 35 between paragraphs
        jitter = (3, -3, 0, 2, -2, 3, -3, 1)[i]  # the box's bottom, not the letters
        right = RIGHT if i % 2 == 0 else LEFT + 300
        box = (LEFT, base - 24 + jitter, right, base + 7 + jitter)
        lines.append(TextLine(text, box, 0.95, baseline=base))
    parts = split_region(region(lines))
    assert [p.lines[0].text for p in parts] == texts[::2]

"""Text, blocks and Markdown of real pages from Debian's documentation (tests/data/real).

Each page is cut from a PDF made by a real producer (pdfTeX, Texinfo, dblatex, Sphinx,
beamer, cairo, Ghostscript); ``tests/data/real/README.md`` says where each came from. The
checks compare with what PDFium's own text holds for the page, so they hold for any page.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from docfleet.documents.sources import load_page
from docfleet.page.types import PageTask
from docfleet.stages.assemble import page_record

REAL = Path(__file__).parents[1] / "data" / "real"  # read here: its pages.json parametrizes
PAGES = [entry["file"] for entry in json.loads((REAL / "pages.json").read_text("utf-8"))]
_LEADERS = re.compile(r"(?:\.\s?){3,}")


def record(name: str) -> dict:
    """The page record ``docfleet run --ocr auto`` writes for the page's text layer."""
    task = PageTask(str(REAL / name), "pdf", 1, 1)
    page = load_page(task, want_image=False, want_text_layer=True)
    page.text_source = "text-layer"
    return page_record(page)


def one_table(name: str) -> list[list[str]]:
    """The page's only table block, as rows of cells."""
    tables = [b for b in record(name)["blocks"] if b["type"] == "table"]
    assert len(tables) == 1
    return [row.split("\t") for row in tables[0]["text"].split("\n")]


def layer_text(name: str) -> str:
    """PDFium's own text of the page, a word cut by a line-end hyphen rejoined, a glyph it
    gives no text for (a control character: an unmapped ligature) a word break."""
    pdf = pdfium.PdfDocument(REAL / name)
    try:
        textpage = pdf[0].get_textpage()
        text = textpage.get_text_range()
        textpage.close()
    finally:
        pdf.close()
    text = re.sub("\ufffe\\s*", "", text)
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", text)  # glyphs with no text: breaks


def words(text: str) -> Counter[str]:
    return Counter(unicodedata.normalize("NFKC", text).split())


@pytest.mark.parametrize("name", PAGES)
def test_every_word_of_the_text_layer_is_kept(name):
    ours, layer = words(record(name)["text"]), words(layer_text(name))
    kept = sum((ours & layer).values()) / sum(layer.values())
    assert kept >= 0.98, sorted((layer - ours).elements())[:20]
    assert sum((ours - layer).values()) <= 0.03 * sum(ours.values())


@pytest.mark.parametrize("name", PAGES)
def test_text_is_plain_and_nfc_with_no_ligature_code_points(name):
    text = record(name)["text"]
    assert text == unicodedata.normalize("NFC", text)
    assert not re.search("[\ufb00-\ufb06\ufffe]", text)
    syntax = re.findall(r"^(?:#{1,6} |\| |```).*$", text, re.M)  # no Markdown syntax...
    layer = " ".join(layer_text(name).split())
    assert all(" ".join(line.split()) in layer for line in syntax)  # ...but the page's own


def test_ligatures_never_split_a_word():
    name = "latex-ligatures.pdf"
    ours = words(record(name)["text"])
    ligatured = [w for w in words(layer_text(name)) if re.search("ff|fi|fl", w)]
    assert len(ligatured) >= 5
    assert [w for w in ligatured if w not in ours] == []
    assert [w for w in ours if w not in words(layer_text(name))] == []  # no fragment


def test_contents_lines_keep_title_leaders_and_page_number_together():
    rec = record("toc-dot-leaders.pdf")
    assert {b["type"] for b in rec["blocks"]} >= {"toc"}
    lines = [ln for ln in rec["text"].splitlines() if _LEADERS.search(ln)]
    assert len(lines) >= 10
    for line in lines:  # title, leaders, page number on one line
        assert re.match(r"^\S.*?(?:\.\s?){3,}\s*(?:\d+|[ivxlc]+)$", line), line
    entries = [ln for ln in rec["markdown"].splitlines() if ln.startswith("- ")]
    assert len(entries) >= len(lines)
    assert all(re.search(r" … (?:\d+|[ivxlc]+)$", e) for e in entries), entries


def test_running_header_and_footer_are_typed_first_and_last_and_left_out_of_markdown():
    rec = record("running-header-footer.pdf")
    types = [b["type"] for b in rec["blocks"]]
    assert types[0] == "header" and types[-1] == "footer"
    header, footer = rec["blocks"][0]["text"], rec["blocks"][-1]["text"]
    assert header in rec["text"] and footer in rec["text"]  # the plain text keeps every word
    assert header not in rec["markdown"] and footer not in rec["markdown"]
    assert re.search(r"\d", footer)  # the page number
    assert "footnote" in types  # and the footnote sits after the body, before the footer
    assert types.index("footnote") > max(i for i, t in enumerate(types) if t == "text")


def test_two_columns_are_read_one_after_the_other():
    rec = record("two-column-paper.pdf")
    middle = rec["width"] / 2
    body = [b for b in rec["blocks"] if b["type"] not in ("header", "footer", "footnote")]
    sides = [
        "left" if b["bbox"][2] < middle else "right" if b["bbox"][0] > middle else "both"
        for b in body
    ]
    assert sides.count("left") >= 3 and sides.count("right") >= 3
    # no block mixes the columns, and the left column ends before the right one starts
    assert "both" not in sides[sides.index("left") : len(sides) - sides[::-1].index("right")]
    assert sides.index("right") > len(sides) - sides[::-1].index("left") - 1


def test_words_cut_by_a_line_end_hyphen_are_rejoined():
    name = "hyphenated-lines.pdf"
    pdf = pdfium.PdfDocument(REAL / name)
    textpage = pdf[0].get_textpage()
    raw = textpage.get_text_range()
    textpage.close()
    pdf.close()
    cut = re.findall(r"(\w+)\ufffe\s*(\w+)", raw)
    assert len(cut) >= 3
    text = record(name)["text"]
    for head, tail in cut:
        assert head + tail in text
        assert not re.search(rf"\b{head}-?\s*\n\s*{tail}\b", text)


def test_headings_paragraphs_lists_and_code_in_markdown():
    md = record("docbook-dblatex.pdf")["markdown"]
    headings = re.findall(r"^(#{2,6}) (.+)$", md, re.M)
    assert ("###", "4.8 Creating Tables") in headings
    assert any(text.startswith("4.8.1") and len(level) > 3 for level, text in headings)
    items = re.findall(r"^- .+$", md, re.M)
    assert len(items) >= 6
    assert "\n- /initial/path/rep1/rep2 ;\n- /another/path/rep1/rep2 ;\n" in md  # one list
    paragraphs = [p for p in md.split("\n\n") if p and not p.startswith(("#", "-", "`"))]
    assert all("\n" not in p for p in paragraphs)  # joined across line breaks
    code = record("monospace-code.pdf")["markdown"]
    block = re.search(r"```\n(.+?)\n```", code, re.S)
    assert block and "\\newcommand*{\\beforebookskip}{\\null\\vfil}" in block.group(1)


def test_bold_headings_at_body_size_stand_apart_with_levels_from_their_numbers():
    md = record("texinfo-run-in-headings.pdf")["markdown"]
    headings = re.findall(r"^(#{2,6}) (.+)$", md, re.M)
    assert headings == [
        ("####", "2.1.11 Pairlist objects"),  # bold, the body's size: once merged into its text
        ("####", "2.1.12 The \u201cAny\u201d type"),
        ("###", "2.2 Attributes"),  # "2.2" one level above "2.1.11", on every page alike
        ("####", "2.2.1 Names"),
    ]
    assert "\n\nPairlist objects are similar to Lisp" in md  # the paragraph under it


def test_a_stem_width_weight_does_not_make_regular_text_bold():
    # Ghostscript embeds CharterBT-Roman and Latin Modern regulars with a stem width that
    # PDFium reads as weight 635-812; the names say regular, so lines there are not headings
    def headings(name: str) -> list[str]:
        return re.findall(r"^#{2,6} (.+)$", record(name)["markdown"], re.M)

    assert headings("title-page-authors.pdf") == [  # the title and bold section headings only
        "Extending R with C++: A Brief Introduction to Rcpp",
        "Introduction",
        "First Steps with Rcpp",
    ]
    assert headings("two-column-paper.pdf") == [  # its code lines were headings
        "2.10. I am having problems building Rcpp on macOS, any help."  # a numbered question
    ]
    assert headings("hyphenated-lines.pdf") == []


def test_code_boxes_side_by_side_stay_code_not_table_cells():
    rec = record("two-column-code.pdf")
    md = rec["markdown"]
    assert (  # the listing's parts on either side of a blank line are one code block
        "```\n#include <Rcpp.h>\n// [[Rcpp::export]]\nRcpp::NumericVector fun(void) {\n"
        "    Rcpp::NumericVector v(4);" in md
    )
    tables = [b for b in rec["blocks"] if b["type"] == "table"]
    assert len(tables) <= 1  # code lines of both columns once made four tables
    assert all("Rcpp::NumericVector v(4)" not in b["text"] for b in tables)


def test_a_numbered_listing_keeps_its_line_numbers_with_their_code():
    md = record("doxygen-listing.pdf")["markdown"]
    listing = re.search(r"```\n(00190.+?)\n```", md, re.S)
    assert listing, md[:400]
    lines = listing.group(1).splitlines()
    assert len(lines) > 40 and all(re.match(r"^\d{5}\b", ln) for ln in lines)

    def indent(number: str) -> int:
        line = next(ln for ln in lines if ln.startswith(number))
        return len(line) - len(line[6:].lstrip()) - 6

    assert lines[lines.index(next(ln for ln in lines if ln.startswith("00198")))].endswith(
        "dx = cx - v->eta;"
    )
    assert indent("00195") < indent("00198") < indent("00201")  # if { ... if ... }


def test_code_in_a_typewriter_font_without_mono_in_its_name_is_code():
    md = record("sphinx-code-blocks.pdf")["markdown"]  # t1xtt: txfonts' typewriter
    assert '```\nexport DEBFULLNAME="Bob Dobbs"\nexport DEBEMAIL="subgenius@example.com"\n```' in md
    assert "#### Configure your shell" in md


def test_a_table_with_wrapped_cells_under_a_bold_header_keeps_its_rows():
    rows = one_table("docbook-wrapped-table.pdf")
    assert rows[0][:3] == ["signal value", "signal name", "action note"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["SIGQUIT"][2:] == [
        "terminate the process and dump core",
        "quit from keyboard (CTRL-\\)",
    ]
    assert by_name["---"][2:] == ["no signal is sent (see kill(2))", "check if process is running"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3", "9", "15"]
    assert (
        "| 9 | SIGKILL | terminate the process | unblockable kill signal |"
        in record("docbook-wrapped-table.pdf")["markdown"]
    )


def test_a_table_becomes_a_github_table():
    rec = record("table-booktabs.pdf")
    assert "table" in [b["type"] for b in rec["blocks"]]
    tables = re.findall(r"(?:^\|.*\|\n?)+", rec["markdown"], re.M)
    assert tables
    rows = [row for t in tables for row in t.strip().splitlines()]
    assert any(re.match(r"^\|(?: --- \|)+$", row) for row in rows)
    assert any("Gnat" in row and "13.65" in row for row in rows)
    assert "|" not in rec["text"]  # the plain text separates cells with tabs


def test_ocr_of_a_real_two_column_page_keeps_its_words_and_reads_column_by_column():
    from docfleet import Fleet
    from docfleet.jobs.run.config import DocumentOptions
    from docfleet.jobs.run.job import map_pages, page_tasks

    opts = DocumentOptions(ocr="always", pipeline="layout+ocr")
    fleet = Fleet(devices="cpu", workers="thread", replicas=1, progress=False)
    (result,) = list(map_pages(fleet, page_tasks([REAL / "two-column-paper.pdf"], opts), opts))
    assert result.ok, result.error
    rec = result.value
    ours, layer = words(rec["text"]), words(layer_text("two-column-paper.pdf"))
    assert sum((ours & layer).values()) / sum(layer.values()) >= 0.85  # OCR misreads a few
    middle = rec["width"] / 2
    body = [b for b in rec["blocks"] if b["type"] not in ("header", "footer") and b["text"]]
    sides = ["left" if b["bbox"][2] < middle else "right" for b in body if
             b["bbox"][2] < middle or b["bbox"][0] > middle]  # fmt: skip
    assert sides.count("left") >= 3 and sides.count("right") >= 3
    assert sides.index("right") > len(sides) - sides[::-1].index("left") - 1


def test_a_definition_list_keeps_each_term_with_its_description():
    rec = record("texinfo-operator-table.pdf")  # Texinfo @table: terms in a column of their own
    assert not [b for b in rec["blocks"] if b["type"] in ("table", "list_item")]
    paragraphs = rec["markdown"].split("\n\n")
    for entry in (r"\- subtraction", r"\* multiplication", "/ division", "== equals", "& and"):
        assert entry in paragraphs, entry
    hash_entry = next(p for p in paragraphs if p.startswith(r"\# integer division;"))
    assert hash_entry.endswith("for integer division in Asymptote!")  # its wrapped lines too
    assert next(p for p in paragraphs if p.startswith("% modulo;")).endswith("nonzero integers q.")
    assert "&& and (with conditional evaluation of right-hand argument)" in paragraphs


def test_a_table_whose_rows_are_spaced_like_paragraphs_stays_a_table_under_its_header():
    rows = one_table("docbook-spaced-table.pdf")
    assert rows[0] == ["Directory", "Description"]
    assert rows[1:] == [
        ["floppy", "Floppy drive (optional)"],
        ["cdrom", "CD-ROM drive (optional)"],
        ["cdrecorder", "CD writer (optional)"],
        ["zip", "Zip drive (optional)"],
    ]

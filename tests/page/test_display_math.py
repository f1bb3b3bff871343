"""Display formulas on text-layer pages: the pieces gathered into one block, shown as the
formula's image rendered from the PDF; prose, code, titles and charts left alone."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from docfleet.documents.sources import load_page
from docfleet.page.display_math import display_formulas
from docfleet.page.layout import text_layer_blocks
from docfleet.page.types import PageTask, TextLine
from docfleet.stages.assemble import page_record

REAL = Path(__file__).parents[1] / "data" / "real"
H = 20.0  # line height


def record(name: str) -> dict:
    """The page record of the page's text layer, its formulas as images."""
    page = load_page(
        PageTask(str(REAL / name), "pdf", 1, 1), want_image=False, want_text_layer=True
    )
    page.text_source = "text-layer"
    return page_record(page)


def line(text: str, x0: float, y0: float, x1: float, *, mono: bool = False) -> TextLine:
    return TextLine(text, (x0, y0, x1, y0 + H), font_size=H, mono=mono)


def prose(y0: float, n: int) -> list[TextLine]:
    words = "the quick brown fox jumps over the lazy dog and then some more words here"
    return [line(words, 100, y0 + 26 * k, 900) for k in range(n)]


def test_a_fraction_s_pieces_become_one_formula_between_two_paragraphs():
    pieces = [  # d/dx y = y^2/x^2: numerator and denominator on rows of their own
        line("d", 450, 300, 460),
        line("d x", 444, 327, 468),
        line("y =", 473, 314, 503),
        line("y2", 511, 297, 527),
        line("x2", 511, 327, 527),
    ]
    lines = prose(200, 3) + pieces + prose(380, 3)
    found, rest = display_formulas(lines)
    assert len(found) == 1 and found[0].type == "equation"
    assert {ln.text for ln in found[0].lines} == {ln.text for ln in pieces}
    assert rest == prose(200, 3) + prose(380, 3)
    x0, y0, x1, y1 = found[0].bbox  # past the text, to take a fraction's bar and big signs
    assert x0 < 444 and y0 < 297 and x1 > 527 and y1 > 347


def test_a_numbered_display_takes_its_number_and_leaves_the_paragraphs_alone():
    formula = "C = \u03b1 + \u03b2Y + \u03b5"  # C = alpha + beta Y + epsilon
    lines = [*prose(200, 3), line(formula, 450, 290, 590), line("(4.1)", 1000, 290, 1040)]
    blocks = text_layer_blocks([*lines, *prose(330, 2)], 1200, 1600)
    formulas = [b for b in blocks if b.type == "equation"]
    assert [ln.text for b in formulas for ln in b.lines] == [formula, "(4.1)"]
    assert [b.type for b in blocks].count("text") == 2


def test_centred_titles_code_and_chart_labels_are_no_formulas():
    title = [
        line("Euklid of Alexandria", 420, 300, 640),
        line("Department of Mathematics", 380, 330, 680),
    ]
    code = [line("x <- array(1:20, dim=c(4,5))", 400, 300, 700), line("$ a = b", 400, 330, 500)]
    mono = [line("y = f(x)", 420, 300, 520, mono=True)]
    chart = [  # axis labels (U+2212 minus) beside a label on their row
        line("\u22120.2", 420, 300, 460),
        line("Low", 300, 300, 340),
        line("\u22120.4", 420, 330, 460),
    ]
    prose_row = [line("if x = 5 then the value of the sum is known", 420, 300, 880)]
    for case in (title, code, mono, chart, prose_row):
        found, rest = display_formulas(prose(200, 3) + case + prose(380, 3))
        assert found == [], case
        assert len(rest) == 6 + len(case)


def test_a_real_paper_s_display_equations_are_images_rendered_from_the_pdf():
    rec = record("math-italic-letters.pdf")  # acmart: lim (1), a sum, a sum = integral (2)
    formulas = [b for b in rec["blocks"] if b["type"] == "formula"]
    assert len(formulas) == 3
    assert "(1)" in formulas[0]["text"] and "(2)" in formulas[2]["text"]
    assert "lim" in formulas[0]["text"] and "∫" in formulas[2]["text"]
    for block in formulas:
        assert f"![formula]({block['image']})" in rec["markdown"]
        pixels = np.asarray(Image.open(io.BytesIO(rec["_assets"][block["image"]])).convert("L"))
        x0, y0, x1, y1 = block["bbox"]
        assert abs(pixels.shape[1] - (x1 - x0)) <= 2 and abs(pixels.shape[0] - (y1 - y0)) <= 2
        assert (pixels < 128).mean() > 0.02  # ink: the formula is drawn, not a blank crop
    inline = "this equation: lim"  # in-line math stays in its sentence
    assert any(inline in b["text"] for b in rec["blocks"] if b["type"] == "text")


def test_a_formula_whose_pdf_is_gone_by_assembly_keeps_its_text(tmp_path):
    import shutil

    copy = tmp_path / "paper.pdf"
    shutil.copy(REAL / "math-italic-letters.pdf", copy)
    page = load_page(PageTask(str(copy), "pdf", 1, 1), want_image=False, want_text_layer=True)
    page.text_source = "text-layer"
    copy.unlink()  # another machine's worker, a file moved: no crop can be rendered
    rec = page_record(page)
    formulas = [b for b in rec["blocks"] if b["type"] == "formula"]
    assert len(formulas) == 3 and not any("image" in b for b in formulas)
    assert (
        not rec.get("_assets") and "lim" in rec["markdown"] and "![formula]" not in rec["markdown"]
    )

"""Bold lines and baselines told from the pixels alone (for OCR lines, which carry no font and
whose boxes are padded unevenly): on real pages rendered here, the lines whose text layer names
a bold font are the ones whose strokes are wide, and no other; the baselines found are the
PDF's own."""

from __future__ import annotations

import ctypes
from dataclasses import replace
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from docfleet.documents.sources import load_page
from docfleet.page.ink import mark_baselines, mark_bold, stroke_width
from docfleet.page.types import PageTask, TextLine

REAL = Path(__file__).parents[1] / "data" / "real"


@pytest.mark.parametrize(
    "name", ["sphinx-code-blocks.pdf", "reportlab-bullets.pdf", "texinfo-run-in-headings.pdf"]
)
def test_the_bold_lines_of_a_real_page_are_found_from_its_pixels(name: str) -> None:
    page = load_page(PageTask(str(REAL / name), "pdf", 1, 1), want_image=True,
                     want_text_layer=True)  # fmt: skip
    truth = [line.bold for line in page.text_lines]
    assert 3 <= sum(truth) < len(truth) / 2  # the fonts name a few bold headings
    found = mark_bold([replace(line, bold=False) for line in page.text_lines], page.image)
    assert [line.bold for line in found] == truth


def test_stroke_width_is_the_mean_dark_run_along_rows() -> None:
    gray = np.full((10, 20), 255.0)
    gray[2:8, 3:5] = 0.0  # a stem two pixels wide
    gray[2:8, 10:14] = 0.0  # one four pixels wide
    assert stroke_width(gray, (0, 0, 19, 9), 128.0) == 3.0
    assert stroke_width(gray, (15, 0, 19, 9), 128.0) == 0.0
    lines = [TextLine("thin strokes", (0, 0, 6, 9)), TextLine("wide", (9, 0, 15, 9))]
    assert [line.bold for line in mark_bold(lines, gray)] == [False, True]


def test_baselines_from_the_pixels_sit_where_the_pdf_sets_its_letters() -> None:
    name = "texinfo-page.pdf"  # prose, code and descenders (g, p, y) on lines of one size
    page = load_page(PageTask(str(REAL / name), "pdf", 1, 1), want_image=True,
                     want_text_layer=True)  # fmt: skip
    pdf = pdfium.PdfDocument(REAL / name)
    textpage = pdf[0].get_textpage()
    scale, height = page.dpi / 72, pdf[0].get_size()[1]
    x, y = ctypes.c_double(), ctypes.c_double()
    origins = []  # where the PDF puts each character's baseline, in page pixels
    for i in range(textpage.count_chars()):
        if pdfium_c.FPDFText_GetCharOrigin(textpage.raw, i, ctypes.byref(x), ctypes.byref(y)):
            origins.append((x.value * scale, (height - y.value) * scale))
    checked = 0
    usual = float(np.median([ln.bbox[3] - ln.bbox[1] for ln in page.text_lines]))
    for line in mark_baselines(page.text_lines, page.image):
        x0, y0, x1, y1 = line.bbox
        own = [round(oy) for ox, oy in origins if x0 <= ox <= x1 and y0 <= oy <= y1 + 1]
        if line.baseline is None or len(line.text) < 20 or not own or y1 - y0 > 1.5 * usual:
            continue  # (a box the text layer stretched over two printed lines: not one line)
        assert abs(line.baseline - max(set(own), key=own.count)) <= 2, line.text
        checked += 1
    assert checked >= 15
    textpage.close()
    pdf.close()


def test_a_baseline_is_the_bottom_of_the_band_that_holds_most_ink() -> None:
    gray = np.full((20, 30), 255.0)
    gray[5:12, 2:28:3] = 0.0  # letters standing on row 11
    gray[12:16, 4:6] = 0.0  # a descender
    assert mark_baselines([TextLine("gap", (0, 0, 29, 19))], gray)[0].baseline == 12.0
    assert mark_baselines([TextLine("none", (0, 16, 29, 19))], gray)[0].baseline is None

"""Bold lines told from the pixels alone (for OCR lines, which carry no font): on real pages
rendered here, the lines whose text layer names a bold font are the ones whose strokes are
wide, and no other."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from docfleet.documents.sources import load_page
from docfleet.page.ink import mark_bold, stroke_width
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

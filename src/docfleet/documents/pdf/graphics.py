"""What a PDF page draws besides its text and images that the page's structure depends on:
the vertical rulings and boxes a table drawn as a grid has. Callers
hold ``PDFIUM_LOCK``."""

from __future__ import annotations

from typing import Any

THIN = 2.0  # points: a ruling is a path at most this thick
LONG = 8.0  # points: and at least this long


def ruling_count(page: Any) -> int:
    """How many vertical rulings an open ``PdfPage`` draws: paths (in form XObjects too) that
    are thin vertical strokes, two for each rectangle framing a region. Column rulings are
    what a grid has and a table ruled only across (booktabs, most journals) has not."""
    import pypdfium2.raw as pdfium_c

    count = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=3):
        x0, y0, x1, y1 = obj.get_bounds()
        width, height = x1 - x0, y1 - y0
        if width <= THIN and height >= LONG:
            count += 1
        elif min(width, height) >= LONG and _stroked(obj):
            count += 2  # a box around a cell or a table: its left and right side
    return count


def _stroked(obj: Any) -> bool:
    """The path is drawn as an outline (a frame), not filled (a shaded area)."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    fill, stroke = ctypes.c_int(), ctypes.c_int()
    if not pdfium_c.FPDFPath_GetDrawMode(obj.raw, ctypes.byref(fill), ctypes.byref(stroke)):
        return False
    return bool(stroke.value) and fill.value == 0

"""Tables drawn as a full grid read from their rulings: drawn grids with and without spanning
cells, a table open at its sides, a table ruled only above and below, and a real page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from PIL import Image, ImageDraw, ImageFont

from docfleet.runtimes.tables.grid import grid_cells
from docfleet.runtimes.tables.ruled import grid_boxes, ruled_reading

REAL = Path(__file__).parents[1] / "data" / "real"
CELL_W, CELL_H, LEFT, TOP = 200, 60, 30, 30


def drawn(
    rows: int,
    cols: int,
    *,
    skip: set[tuple[str, int, int]] = frozenset(),
    sides: bool = True,
    inner: bool = True,
) -> np.ndarray:
    """A white crop with a grid of ``rows`` x ``cols`` cells and a word in each; ``skip``
    leaves out a ruling segment: ("v", row, col) the vertical one left of cell (row, col),
    ("h", row, col) the horizontal one above it."""
    width, height = 2 * LEFT + cols * CELL_W, 2 * TOP + rows * CELL_H
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=24)
    for r in range(rows + 1):
        for c in range(cols):
            if ("h", r, c) not in skip and (inner or r in (0, rows)):
                y = TOP + r * CELL_H
                draw.line([(LEFT + c * CELL_W, y), (LEFT + (c + 1) * CELL_W, y)], "black", 2)
    for c in range(cols + 1):
        for r in range(rows):
            if ("v", r, c) not in skip and inner and (sides or 0 < c < cols):
                x = LEFT + c * CELL_W
                draw.line([(x, TOP + r * CELL_H), (x, TOP + (r + 1) * CELL_H)], "black", 2)
    for r in range(rows):
        for c in range(cols):
            draw.text((LEFT + c * CELL_W + 15, TOP + r * CELL_H + 15), f"w{r}{c}", "black", font)
    return np.asarray(image)


def test_a_full_grid_gives_its_rows_and_columns_and_cell_boxes() -> None:
    reading = ruled_reading(drawn(3, 4))
    assert reading is not None and reading.score == 1.0
    cells = grid_cells(reading.tokens)
    assert len(cells) == 12 and len(reading.boxes) == 12
    assert {(c.row, c.col) for c in cells} == {(r, c) for r in range(3) for c in range(4)}
    x0, y0, x1, y1 = reading.boxes[5]  # row 1, column 1
    assert abs(x0 - (LEFT + CELL_W)) <= 2 and abs(y0 - (TOP + CELL_H)) <= 2
    assert abs(x1 - (LEFT + 2 * CELL_W)) <= 2 and abs(y1 - (TOP + 2 * CELL_H)) <= 2


def test_a_missing_ruling_joins_cells_into_one_spanning_them() -> None:
    # a header cell over columns 1-2, and a cell of column 0 over rows 1-2
    reading = ruled_reading(drawn(3, 3, skip={("v", 0, 2), ("h", 2, 0)}))
    assert reading is not None
    cells = {(c.row, c.col): (c.row_span, c.col_span) for c in grid_cells(reading.tokens)}
    assert cells[(0, 1)] == (1, 2) and cells[(1, 0)] == (2, 1)
    assert len(cells) == 7 and len(reading.boxes) == 7


@pytest.mark.parametrize(
    "crop",
    [
        pytest.param(drawn(4, 3, sides=False), id="open-at-its-sides"),
        pytest.param(drawn(4, 3, inner=False), id="ruled-above-and-below-only"),
        pytest.param(np.full((300, 500, 3), 255, np.uint8), id="blank"),
    ],
)
def test_no_full_grid_is_left_to_the_model(crop: np.ndarray) -> None:
    assert ruled_reading(crop) is None


def test_a_real_table_open_at_its_sides_is_no_grid() -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(REAL / "docbook-wrapped-table.pdf")
    try:
        image = np.asarray(pdf[0].render(scale=150 / 72).to_pil().convert("RGB"))
    finally:
        pdf.close()
    assert ruled_reading(image[450:1230, 100:1190]) is None  # the table, no frame at its sides


def test_a_pages_grids_are_found_where_its_rulings_join() -> None:
    page = np.full((900, 1200, 3), 255, np.uint8)
    grid = drawn(3, 4)
    page[200 : 200 + grid.shape[0], 100 : 100 + grid.shape[1]] = grid
    page[700:702, 100:1100] = 0  # a rule alone (under a heading): no grid
    [box] = grid_boxes(page)
    assert abs(box[0] - (100 + LEFT)) <= 3 and abs(box[1] - (200 + TOP)) <= 3
    assert abs(box[2] - (100 + LEFT + 4 * CELL_W)) <= 3
    assert abs(box[3] - (200 + TOP + 3 * CELL_H)) <= 3

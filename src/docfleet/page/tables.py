"""Structured tables (cells from the table model) filled with a page's OCR lines, as HTML, as a
grid of texts, and as the page's table blocks. Pure functions on boxes and text."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence

from docfleet.page.blocks import Block, rows
from docfleet.page.geometry import area, intersection
from docfleet.page.types import BBox, Region, Table, TableCell, TextLine

SPILL = 1.3  # a line this much wider than the cell it centres in may run across cells
FIGURES_SHARE = 0.25  # body rows with this share of cells holding digits are rows of figures
SAME_BOX = 0.8  # a region this much inside a table's box is that table


def same_box(a: BBox, b: BBox) -> bool:
    """The smaller box lies mostly (:data:`SAME_BOX`) inside the larger."""
    return intersection(a, b) / max(min(area(a), area(b)), 1e-6) >= SAME_BOX


def lines_in(box: BBox, lines: Sequence[TextLine], taken: Collection[int] = ()) -> list[int]:
    """Indices of the lines whose centre falls in ``box`` (those in ``taken`` left out)."""
    return [i for i, ln in enumerate(lines) if i not in taken and inside(centre(ln.bbox), box)]


def fill_cells(cells: list[TableCell], lines: Sequence[TextLine], indices: Sequence[int]) -> None:
    """Give each line (of ``indices``) to the cell its centre falls in (the smallest, where
    predicted cells overlap), else to the nearest cell: cell boxes are predictions and a line
    just outside every one is still the table's. A line that runs across cells (OCR reads
    "55.3 40.0" as one line) is cut into its words, each placed by where it stands in the
    line. A cell's pieces are read top to bottom, left to right, joined with a space."""
    if not cells:
        return
    owned: list[list[tuple[int, TextLine]]] = [[] for _ in cells]
    for i in indices:
        whole = lines[i]
        home = _home(cells, whole.bbox)
        pieces = [whole]
        if whole.bbox[2] - whole.bbox[0] > SPILL * max(
            cells[home].bbox[2] - cells[home].bbox[0], 1
        ):
            pieces = _words(whole)
        by_cell: dict[int, list[TextLine]] = {}
        for piece in pieces:
            by_cell.setdefault(_home(cells, piece.bbox), []).append(piece)
        if len(by_cell) == 1:
            by_cell = {next(iter(by_cell)): [whole]}
        for k, mine in by_cell.items():
            text = " ".join(p.text for p in mine)
            box = (mine[0].bbox[0], whole.bbox[1], mine[-1].bbox[2], whole.bbox[3])
            owned[k].append((i, TextLine(text, box, whole.score)))
    for cell, mine in zip(cells, owned, strict=True):
        index = {id(piece): i for i, piece in mine}
        ordered = [ln for row in rows([piece for _, piece in mine]) for ln in row]
        cell.lines = tuple(dict.fromkeys(index[id(ln)] for ln in ordered))
        cell.text = " ".join(t for t in (ln.text.strip() for ln in ordered) if t)


def _home(cells: Sequence[TableCell], box: BBox) -> int:
    """The cell a box's centre falls in (the smallest of several), else the nearest."""
    point = centre(box)
    holding = [k for k, c in enumerate(cells) if inside(point, c.bbox)]
    if holding:
        return min(holding, key=lambda k: area(cells[k].bbox))
    return min(range(len(cells)), key=lambda k: _distance(point, cells[k].bbox))


def _words(line: TextLine) -> list[TextLine]:
    """The line's words with their boxes: where a text layer's glyphs put them, else where
    they would stand if all characters were equally wide (OCR)."""
    step = (line.bbox[2] - line.bbox[0]) / max(len(line.text), 1)
    x0, y0, _, y1 = line.bbox
    found = list(re.finditer(r"\S+", line.text))
    if len(line.words) == len(found):
        return [TextLine(m.group(), (a, y0, b, y1), line.score)
                for m, (a, b) in zip(found, line.words, strict=True)]  # fmt: skip
    return [
        TextLine(m.group(), (x0 + m.start() * step, y0, x0 + m.end() * step, y1), line.score)
        for m in found
    ]


def first_row_header(cells: Sequence[TableCell]) -> bool:
    """Where the table model marks no header row: whether the first row reads as one (words
    without digits above rows of figures), to be set as the header. Rows of figures under a
    row of labels is what a table's header is nearly always; the model misses it on tables
    drawn without a rule under the header."""
    first = [c for c in cells if c.row == 0]
    rest = [c for c in cells if c.row >= 1 and c.text]
    if not first or not rest or any(c.header for c in cells) or any(c.row_span > 1 for c in first):
        return False
    words = all(c.text and not any(ch.isdigit() for ch in c.text) for c in first)
    figures = sum(any(ch.isdigit() for ch in c.text) for c in rest)
    return words and figures >= FIGURES_SHARE * len(rest)


def table_html(table: Table) -> str:
    """The table as HTML: header rows in ``<thead>`` as ``<th>`` cells, spans as attributes.

    >>> cells = [TableCell(0, 0, col_span=2, text="A & B", header=True), TableCell(1, 0, text="1"),
    ...          TableCell(1, 1, text="2")]
    >>> table = Table((0, 0, 9, 9), 1.0, rows=2, cols=2, cells=cells, header_rows=1)
    >>> print(table_html(table).replace("><tr>", ">\\n<tr>"))
    <table><thead>
    <tr><th colspan="2">A &amp; B</th></tr></thead><tbody>
    <tr><td>1</td><td>2</td></tr></tbody></table>
    """
    parts = ["<table>"]
    for r in range(table.rows):
        if r == 0 and table.header_rows:
            parts.append("<thead>")
        if r == table.header_rows:
            parts.append("<tbody>")
        parts.append("<tr>")
        for cell in sorted((c for c in table.cells if c.row == r), key=lambda c: c.col):
            tag = "th" if r < table.header_rows else "td"
            pairs = (("rowspan", cell.row_span), ("colspan", cell.col_span))
            spans = "".join(f' {name}="{n}"' for name, n in pairs if n > 1)
            parts.append(f"<{tag}{spans}>{html.escape(cell.text, quote=False)}</{tag}>")
        parts.append("</tr>")
        if r == table.header_rows - 1:
            parts.append("</thead>")
    if table.rows > table.header_rows:
        parts.append("</tbody>")
    parts.append("</table>")
    return "".join(parts)


def table_grid(table: Table) -> list[list[str]]:
    """Rows of cell texts, one column per grid column; a spanning cell's text stands in its
    first row and column, the places it covers besides are empty."""
    grid = [[""] * table.cols for _ in range(table.rows)]
    for cell in table.cells:
        grid[cell.row][cell.col] = cell.text
    return grid


def table_blocks(
    tables: Sequence[Table], lines: Sequence[TextLine], regions: Sequence[Region]
) -> tuple[list[Block], list[TextLine], list[Region]]:
    """One ``table`` block per structured table (its cells' lines as the block's lines), and
    the lines and regions left for the rest of the page."""
    taken = {i for table in tables for i in table.lines}
    blocks = []
    for table in tables:
        mine = [lines[i] for i in table.lines]
        ordered = [ln for row in rows(mine) for ln in row]
        blocks.append(Block("table", table.bbox, table.score, ordered, cells=table_grid(table),
                            table=table))  # fmt: skip
    rest = [r for r in regions if not any(same_box(r.bbox, t.bbox) for t in tables)]
    return blocks, [ln for i, ln in enumerate(lines) if i not in taken], rest


def cell_record(cell: TableCell) -> dict[str, object]:
    """A cell as the page record carries it."""
    return {"row": cell.row, "col": cell.col, "row_span": cell.row_span,
            "col_span": cell.col_span, "header": cell.header, "text": cell.text,
            "bbox": [round(v, 1) for v in cell.bbox]}  # fmt: skip


def centre(box: BBox) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def inside(point: tuple[float, float], box: BBox) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _distance(point: tuple[float, float], box: BBox) -> float:
    dx = max(box[0] - point[0], 0.0, point[0] - box[2])
    dy = max(box[1] - point[1], 0.0, point[1] - box[3])
    return dx * dx + dy * dy

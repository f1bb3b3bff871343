"""Structured tables (cells from the table model) filled with a page's OCR lines, as HTML, as a
grid of texts, and as the page's table blocks. Pure functions on boxes and text."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence

from docfleet.page.blocks import (
    TEXTUAL_REGIONS,
    Block,
    aligned,
    prose,
    prose_share,
    rows,
    table_runs,
)
from docfleet.page.geometry import area, intersection
from docfleet.page.types import BBox, Region, Table, TableCell, TextLine

TABULAR_SHARE = 0.6  # a figure region is read as a table when this share of its lines is in rows
PAGE_TABLE_SHARE = 0.8  # a page is one table when this share of its lines is in no text region
TABULAR = "tabular"  # the type of a candidate found from its lines, not by the layout model
MAX_EMPTY = 0.5  # such a candidate's reading is a table with at most this share of empty cells
MAX_WRAPPED = 0.3  # and at most this share of cells of several lines
PROSE_SHARE = 0.5  # a region with this share of its lines in columns of body text is no table
SPILL = 1.3  # a line this much wider than the cell it centres in may run across cells
FIGURES_SHARE = 0.25  # body rows with this share of cells holding digits are rows of figures
SAME_BOX = 0.8  # a region this much inside a table's box is that table


def table_candidates(
    lines: Sequence[TextLine], regions: Sequence[Region], min_score: float
) -> list[Region]:
    """The regions of a page to read as tables, in this order: the layout model's ``table``
    regions scored ``min_score`` or more (best first); its ``figure`` regions whose lines
    stand in rows of aligned cells (a table it took for a picture); else the whole page when
    its lines do and the model found no text on it (an image of a table); runs of such rows in no
    region (what it left out). Each grows by the rows of cells just above or below it that the
    model cut off; one that repeats an earlier one is left out."""
    found = sorted((r for r in regions if r.type == "table" and r.score >= min_score),
                   key=lambda r: -r.score)  # fmt: skip
    for region in regions:
        if region.type == "figure" and _tabular([lines[i] for i in lines_in(region.bbox, lines)]):
            found.append(Region(TABULAR, region.bbox, region.score))
    texts = [r for r in regions if r.type in TEXTUAL_REGIONS]
    held = [*texts, *(r for r in regions if r.type == "table"),
            *(r for r in regions if r.type == "figure" and not _prose_in(r, lines))]  # fmt: skip
    loose = [ln for ln in lines if not any(_inside(_centre(ln.bbox), r.bbox) for r in held)]
    outside_text = [ln for ln in lines if not any(_inside(_centre(ln.bbox), r.bbox) for r in texts)]
    if not found and len(outside_text) >= PAGE_TABLE_SHARE * len(lines) and _tabular(lines):
        cells = [ln for row in rows(lines) if len(row) >= 2 for ln in row]  # not a title
        box = (min(ln.bbox[0] for ln in cells), min(ln.bbox[1] for ln in cells),
               max(ln.bbox[2] for ln in cells), max(ln.bbox[3] for ln in cells))  # fmt: skip
        found.append(Region(TABULAR, box, 0.0))
    for block in table_runs(loose)[0]:
        if len(rows(block.lines)) >= 3:
            found.append(Region(TABULAR, block.bbox, 0.0))
    kept: list[Region] = []
    for region in found:
        region = _grown(region, lines, texts)
        if area(region.bbox) < 1 or any(same_box(region.bbox, k.bbox) for k in kept):
            continue
        if prose_share([lines[i] for i in lines_in(region.bbox, lines)], lines) < PROSE_SHARE:
            kept.append(region)  # columns of body text are not a table, whatever looks so
    return kept


def plausible(table: Table, region: Region) -> bool:
    """Whether the table model's filled reading of a region is a table: two rows and two
    columns or more; for a region found from its lines (:data:`TABULAR`), also few empty
    cells and few cells of several lines (an exercise sheet, a block of equations or a
    chart read as a grid has many of either)."""
    if table.rows < 2 or table.cols < 2:
        return False
    if region.type != TABULAR:
        return True
    cells = max(len(table.cells), 1)
    empty = sum(not c.text for c in table.cells) / cells
    wrapped = sum(len(c.lines) > 1 for c in table.cells) / cells
    return empty <= MAX_EMPTY and wrapped <= MAX_WRAPPED


def _prose_in(region: Region, lines: Sequence[TextLine]) -> bool:
    """The region holds running text (a page the layout model took for a picture)."""
    return prose([lines[i] for i in lines_in(region.bbox, lines)])


def same_box(a: BBox, b: BBox) -> bool:
    """The smaller box lies mostly (:data:`SAME_BOX`) inside the larger."""
    return intersection(a, b) / max(min(area(a), area(b)), 1e-6) >= SAME_BOX


def _tabular(lines: Sequence[TextLine]) -> bool:
    """Enough lines, most of them in three or more rows of two or more cells (or two rows of
    three or more) whose columns line up (a chart's labels are a few; a cell's text may wrap
    onto lines of its own)."""
    if len(lines) < 6:
        return False
    multi = [row for row in rows(lines) if len(row) >= 2]
    held = sum(len(row) for row in multi)
    enough = len(multi) >= 3 or (len(multi) == 2 and min(map(len, multi)) >= 3)
    return enough and held >= TABULAR_SHARE * len(lines) and aligned(multi)


def _grown(region: Region, lines: Sequence[TextLine], texts: Sequence[Region]) -> Region:
    """The region with the rows of two or more cells just above or below it that it left out
    (a header row the layout model cut off), lines of text regions (a caption) excepted."""
    box = region.bbox
    free = [ln for ln in lines if not any(_inside(_centre(ln.bbox), r.bbox) for r in texts)]
    grown = True
    while grown:
        grown = False
        outside = [ln for ln in free if not _inside(_centre(ln.bbox), box)
                   and min(ln.bbox[2], box[2]) - max(ln.bbox[0], box[0]) > 0]  # fmt: skip
        for row in rows(outside):
            top, bottom = min(ln.bbox[1] for ln in row), max(ln.bbox[3] for ln in row)
            height = bottom - top
            near = box[1] - bottom < 1.5 * height if bottom <= box[1] + 0.5 * height else (
                top - box[3] < 1.5 * height and top >= box[3] - 0.5 * height)  # fmt: skip
            if len(row) >= 2 and near:
                box = (min(box[0], *(ln.bbox[0] for ln in row)), min(box[1], top),
                       max(box[2], *(ln.bbox[2] for ln in row)), max(box[3], bottom))  # fmt: skip
                grown = True
                break
    return Region(region.type, box, region.score)


def lines_in(box: BBox, lines: Sequence[TextLine], taken: Collection[int] = ()) -> list[int]:
    """Indices of the lines whose centre falls in ``box`` (those in ``taken`` left out)."""
    return [i for i, ln in enumerate(lines) if i not in taken and _inside(_centre(ln.bbox), box)]


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
    centre = _centre(box)
    holding = [k for k, c in enumerate(cells) if _inside(centre, c.bbox)]
    if holding:
        return min(holding, key=lambda k: area(cells[k].bbox))
    return min(range(len(cells)), key=lambda k: _distance(centre, cells[k].bbox))


def _words(line: TextLine) -> list[TextLine]:
    """The line's words with the boxes their characters take if all were equally wide."""
    step = (line.bbox[2] - line.bbox[0]) / max(len(line.text), 1)
    x0, y0, _, y1 = line.bbox
    return [
        TextLine(m.group(), (x0 + m.start() * step, y0, x0 + m.end() * step, y1), line.score)
        for m in re.finditer(r"\S+", line.text)
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


def _centre(box: BBox) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _inside(point: tuple[float, float], box: BBox) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _distance(point: tuple[float, float], box: BBox) -> float:
    dx = max(box[0] - point[0], 0.0, point[0] - box[2])
    dy = max(box[1] - point[1], 0.0, point[1] - box[3])
    return dx * dx + dy * dy

"""Where a page's tables are: the layout model's table regions, and the tables it missed
(figures, pages and runs of lines that stand in rows of aligned cells), never columns of body
text; and whether the table model's reading of a region found from its lines is a table.
Pure functions on boxes and text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from docfleet.page.blocks import TEXTUAL_REGIONS, aligned, prose, prose_share, rows, table_runs
from docfleet.page.geometry import area
from docfleet.page.tables import centre, inside, lines_in, same_box
from docfleet.page.types import Region, Table, TextLine

TABULAR_SHARE = 0.6  # a figure region is read as a table when this share of its lines is in rows
PAGE_TABLE_SHARE = 0.8  # a page is one table when this share of its lines is in no text region
TABULAR = "tabular"  # the type of a candidate found from its lines, not by the layout model
MAX_EMPTY = 0.5  # such a candidate's reading is a table with at most this share of empty cells
GRID = "grid"  # the type of a candidate drawn as a full grid, found from its rulings
GRID_EMPTY = 0.6  # its cells hold text but for this share at most (a chart's grid holds none)
MAX_WRAPPED = 0.3  # and at most this share of cells of several lines
EQUATION_TABLE_LINES = 8  # an "equation" region of this many lines in rows of cells is a table
LOOSE_WIDEST_CELL = 0.65  # rows of lines to try the table model on may hold a wider cell
PROSE_SHARE = 0.5  # a region with this share of its lines in columns of body text is no table
CONTENTS_ROWS = 5  # a contents list: at least this many rows ending with a page number
CONTENTS_SHARE = 0.6  # and this share of its rows
TABLE_CAPTION = re.compile(r"^(?:table|tab\.)\s*[\dIVX]+(?:[.:-]\d+)*\b", re.I)  # "Table 9.11:"


def table_candidates(
    lines: Sequence[TextLine], regions: Sequence[Region], min_score: float
) -> list[Region]:
    """The regions of a page to read as tables, in this order: the layout model's ``table``
    regions scored ``min_score`` or more (best first); its ``figure`` regions with a table's
    caption ("Table 3") just above or below them, and ``figure`` regions (and ``equation``
    regions of many lines) whose lines stand in rows of aligned cells (a table it took for a
    picture or a formula); else the whole page when
    its lines do and the model found no text on it (an image of a table); runs of such rows in no
    region (what it left out). Each grows by the rows of cells just above or below it that the
    model cut off; one that repeats an earlier one is left out."""
    found = sorted((r for r in regions if r.type == "table" and r.score >= min_score),
                   key=lambda r: -r.score)  # fmt: skip
    for region in regions:
        inside_lines = [lines[i] for i in lines_in(region.bbox, lines)]
        if region.type == "equation" and len(inside_lines) < EQUATION_TABLE_LINES:
            continue  # an aligned array of equations is a formula, not a table
        if region.type == "figure" and _captioned(region, lines):
            found.append(Region("table", region.bbox, region.score))  # as the model's own
        elif region.type in ("figure", "equation") and _tabular(inside_lines):
            found.append(Region(TABULAR, region.bbox, region.score))
    texts = [r for r in regions if r.type in TEXTUAL_REGIONS]
    held = [*texts, *(r for r in regions if r.type == "table"),
            *(r for r in regions if r.type == "figure" and not _prose_in(r, lines))]  # fmt: skip
    loose = [ln for ln in lines if not any(inside(centre(ln.bbox), r.bbox) for r in held)]
    outside_text = [ln for ln in lines if not any(inside(centre(ln.bbox), r.bbox) for r in texts)]
    if not found and len(outside_text) >= PAGE_TABLE_SHARE * len(lines) and _tabular(lines):
        cells = [ln for row in rows(lines) if len(row) >= 2 for ln in row]  # not a title
        box = (min(ln.bbox[0] for ln in cells), min(ln.bbox[1] for ln in cells),
               max(ln.bbox[2] for ln in cells), max(ln.bbox[3] for ln in cells))  # fmt: skip
        found.append(Region(TABULAR, box, 0.0))
    for block in table_runs(loose, LOOSE_WIDEST_CELL)[0]:
        if len(rows(block.lines)) >= 3:
            found.append(Region(TABULAR, block.bbox, 0.0))
    kept: list[Region] = []
    for region in found:
        region = _grown(region, lines, texts)
        if area(region.bbox) < 1 or any(same_box(region.bbox, k.bbox) for k in kept):
            continue
        held = [lines[i] for i in lines_in(region.bbox, lines)]
        if prose_share(held, lines) < PROSE_SHARE and not contents(held):
            kept.append(region)  # columns of body text, a contents page: no table
    return kept


def plausible(table: Table, region: Region) -> bool:
    """Whether the table model's filled reading of a region is a table: two rows and two
    columns or more; for a grid found from its rulings (:data:`GRID`), also cells that
    mostly hold text; for a region found from its lines (:data:`TABULAR`), also few empty
    cells and few cells of several lines (an exercise sheet, a block of equations or a
    chart read as a grid has many of either)."""
    if table.rows < 2 or table.cols < 2:
        return False
    cells = max(len(table.cells), 1)
    empty = sum(not c.text for c in table.cells) / cells
    if region.type == GRID:
        return empty <= GRID_EMPTY
    if region.type != TABULAR:
        return True
    wrapped = sum(len(c.lines) > 1 for c in table.cells) / cells
    return empty <= MAX_EMPTY and wrapped <= MAX_WRAPPED


def _captioned(region: Region, lines: Sequence[TextLine]) -> bool:
    """A line just above or below the region, across it, opens with "Table" and a number:
    the layout model took a table (cells wrapped over lines of their own) for a picture."""
    x0, y0, x1, y1 = region.bbox
    for line in lines:
        height = line.bbox[3] - line.bbox[1]
        across = min(line.bbox[2], x1) - max(line.bbox[0], x0) > 0
        below = y1 - 0.5 * height <= line.bbox[1] <= y1 + 3 * height
        above = y0 - 3 * height <= line.bbox[3] <= y0 + 0.5 * height
        if across and (below or above) and TABLE_CAPTION.match(line.text.strip()):
            return True
    return False


def _prose_in(region: Region, lines: Sequence[TextLine]) -> bool:
    """The region holds running text (a page the layout model took for a picture)."""
    return prose([lines[i] for i in lines_in(region.bbox, lines)])


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
    free = [ln for ln in lines if not any(inside(centre(ln.bbox), r.bbox) for r in texts)]
    grown = True
    while grown:
        grown = False
        outside = [ln for ln in free if not inside(centre(ln.bbox), box)
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


def contents(lines: Sequence[TextLine]) -> bool:
    """A contents list: most rows end with a page number, the numbers never (or hardly ever)
    going back, and hold a title before it. A table whose last column is figures has them go
    up and down, or holds no words."""
    numbered: list[int] = []
    found = rows(lines)
    for row in found:
        words = " ".join(ln.text for ln in row).split()
        if len(words) >= 2 and words[-1].isdigit() and any(w.isalpha() for w in words[:-1]):
            numbered.append(int(words[-1]))
    if len(numbered) < CONTENTS_ROWS or len(numbered) < CONTENTS_SHARE * len(found):
        return False
    back = sum(b < a for a, b in pairwise(numbered))
    return back <= 0.1 * len(numbered)

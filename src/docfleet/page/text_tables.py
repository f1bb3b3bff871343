"""Tables on text-layer pages that the table model should read: whether a page's text layer
stands in aligned rows of cells (worth its pixels and the layout model), and which of the layout
model's table regions hold a table rather than code, a contents list or running text.

Rows of text-layer cells rebuild a table only as far as every cell is one line; a cell that
wraps puts its second line in a row of its own, and a spanning header straddles columns. The
table model reads rows, columns and spans from the pixels; the text-layer characters fill the
cells. Pure functions on boxes and text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from statistics import median

from docfleet.page.blocks import Block, prose_share, rows
from docfleet.page.layout import text_layer_blocks
from docfleet.page.line_joins import merge_rows
from docfleet.page.table_regions import contents
from docfleet.page.tables import centre, inside, lines_in
from docfleet.page.types import Region, TextLine

HINT_ROWS = 3  # a page is read for tables when this many rows of two or more cells line up
MONO_SHARE = 0.5  # a region with this share of its lines in a monospaced font is code
PROSE_SHARE = 0.5  # a region with this share of its lines in columns of body text is no table
GRID_RULINGS = 4  # a page drawing this many vertical rulings may hold a table drawn as a grid


def pipeline_reads_tables(stages: Sequence[str]) -> bool:
    """Whether a pipeline of these stage names reads tables from pixels (layout finds them, the
    table model reads them)."""
    return "layout" in stages and "tables" in stages


def tabular_text(lines: Sequence[TextLine]) -> bool:
    """Whether a text layer holds rows of two or more cells (pieces a wide gap apart) in
    columns, :data:`HINT_ROWS` rows or more with two columns their cells start in, outside
    monospaced text (code), columns of running text and contents lists.

    >>> cell = lambda t, x, y: TextLine(t, (x, y, x + 40, y + 10))
    >>> grid = [cell(t, x, y) for y in (0, 14, 28) for t, x in (("a", 0), ("1.0", 100))]
    >>> tabular_text(grid), tabular_text(grid[:4])
    (True, False)
    """
    pieces = [p for ln in merge_rows(lines) if not ln.mono for p in (ln.parts or (ln,))]
    multi = [row for row in rows(pieces) if len(row) >= 2]
    if len(multi) < HINT_ROWS:
        return False
    cells = [c for row in multi for c in row]
    height = median(c.bbox[3] - c.bbox[1] for c in cells)
    starts = sorted(c.bbox[0] for c in cells)
    columns, run, last = 0, 0, None
    for x in starts:  # columns: runs of starts within a line height, HINT_ROWS long or more
        run = run + 1 if last is not None and x - last < height else 1
        columns += run == HINT_ROWS
        last = x
    return columns >= 2 and prose_share(cells, pieces) < PROSE_SHARE and not contents(cells)


def needs_table_model(
    lines: Sequence[TextLine], width: float, height: float, rulings: int = 0
) -> bool:
    """Whether a text-layer page has a table its rows do not make whole: a table block of
    rows of other lengths (a wrapped cell, an empty cell, a spanning header), a page that
    draws many column rulings, or a table block on one that draws a few (``rulings``: a
    grid's lines say where the cells are, the rows guess), or rows of cells in columns
    (:func:`tabular_text`) outside every table, contents and code block."""
    if rulings >= 2 * GRID_RULINGS:
        return True  # a grid whose rows the text layer may not even make a table of
    blocks = text_layer_blocks(lines, width, height)
    tables = [b for b in blocks if b.type == "table"]
    if any(not rectangular(b) for b in tables) or (tables and rulings >= GRID_RULINGS):
        return True
    rest = [ln for b in blocks if b.type not in ("table", "toc", "code") for ln in b.lines]
    return tabular_text(rest)


def rectangular(table: Block) -> bool:
    """Every row of the table block has as many cells (a header row may have fewer)."""
    counts = [len(row) for row in table.rows()]
    return len(set(counts[1:])) <= 1 and (len(counts) < 2 or counts[0] <= counts[1])


def text_table_regions(
    lines: Sequence[TextLine],
    regions: Sequence[Region],
    min_score: float,
    made: Sequence[Block],
    grid: Callable[[Region], bool] = lambda region: False,
) -> list[Region]:
    """The layout model's ``table`` regions scored ``min_score`` or more (best first) that hold
    text-layer lines, where the rows of the text layer (``made``: the page's blocks without
    the table model) make no clean table: not code (mostly monospaced lines), not a contents
    list, which the layout model takes for tables on manuals' pages, and not a region whose
    tables the text layer already makes whole (:func:`clean_tables`) unless it is drawn as a
    ``grid`` (its rulings place the cells surely)."""
    found = sorted((r for r in regions if r.type == "table" and r.score >= min_score),
                   key=lambda r: -r.score)  # fmt: skip
    kept = []
    for region in found:
        held = [lines[i] for i in lines_in(region.bbox, lines)]
        if len(held) < 2 or sum(ln.mono for ln in held) >= MONO_SHARE * len(held):
            continue
        if not contents(held) and (not clean_tables(region, made) or grid(region)):
            kept.append(region)
    return kept


def clean_tables(region: Region, blocks: Sequence[Block]) -> bool:
    """Whether the blocks in ``region`` hold tables the rows of a text layer made whole: each
    of the same number of cells in every row (a header row may have fewer) with no other
    block inside it, and a heading between each two (the layout model's region holds several
    tables, each under its title). A cell that wraps, a row that leaves cells empty, or a
    header over several columns gives rows of other lengths, or text between parts of one
    table."""
    mine = [b for b in blocks if inside(centre(b.bbox), region.bbox)]
    tables = sorted((b for b in mine if b.type == "table"), key=lambda b: b.bbox[1])
    for table in tables:
        if not rectangular(table):
            return False
        top, bottom = table.bbox[1], table.bbox[3]
        if any(top < centre(b.bbox)[1] < bottom for b in mine if b.type != "table"):
            return False
    for upper, lower in pairwise(tables):
        between = (upper.bbox[3], lower.bbox[1])
        if not any(b.type == "title" and between[0] <= centre(b.bbox)[1] <= between[1]
                   for b in mine):  # fmt: skip
            return False
    return bool(tables)

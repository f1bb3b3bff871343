"""Tables of a text layer that a bold header row announces, with cells that wrap.

DocBook (dblatex, FOP) and Sphinx set a table's header in bold, one short cell per column, and
let long cells wrap onto several lines, each cell centred on its row (dblatex) or set from its
top (Sphinx, LaTeX ``p`` columns). Rows of cells on one baseline are found elsewhere
(:func:`docfleet.page.blocks.paragraphs`); here the header row fixes the columns, the first column's
lines fix the rows, and each other column's lines are cut into one run per row, the runs
placed where they fit their rows best (top or centre). Pure geometry on pixel boxes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import pairwise
from statistics import median

from docfleet.page.blocks import Block, same_row
from docfleet.page.geometry import union_all
from docfleet.page.types import TextLine

MAX_HEADER_WORDS = 4  # a header cell names its column in a few words
MAX_KEY_WORDS = 6  # a first column's cells name their rows in a few words
ROW_GAP = 2.5  # a vertical gap wider than this many line heights ends the table
MIN_ROWS = 2
CELL_GAP = 0.8  # a gap wider than this many line heights is between cells, not within one


def header_tables(lines: Sequence[TextLine]) -> tuple[list[Block], list[TextLine]]:
    """Tables under bold header rows (their cells in ``Block.cells``), and the other lines."""
    ordered = sorted(lines, key=lambda ln: ln.bbox[1])
    tops = [ln.bbox[1] for ln in ordered]
    taken: set[int] = set()
    tables: list[Block] = []
    for header, row in _header_rows(ordered, tops):
        if any(id(ln) in taken for ln in row):
            continue  # taken by the table above (a header cell's second line)
        start = bisect_right(tops, header[0].bbox[1])  # the lines below the header
        table = _table_under(header, row, ordered[start:], taken)
        if table is not None:
            tables.append(table)
            taken.update(id(ln) for ln in table.lines)
    return tables, [ln for ln in lines if id(ln) not in taken]


def _cells(line: TextLine) -> list[TextLine]:
    return list(line.parts) if line.parts else [line]


def _header_rows(
    ordered: Sequence[TextLine], tops: Sequence[float]
) -> list[tuple[list[TextLine], list[TextLine]]]:
    """Rows of two or more short bold cells set apart, nothing else on the row, top first:
    (the cells left to right, the row's lines). ``ordered``: the lines top to bottom, whose
    tops are ``tops``."""
    found: list[tuple[list[TextLine], list[TextLine]]] = []
    done: set[int] = set()
    for line in ordered:
        if id(line) in done or not line.bold or line.font_size is None:
            continue
        height = line.bbox[3] - line.bbox[1]  # a line on its row starts within two heights
        near = ordered[
            bisect_left(tops, line.bbox[1] - 2 * height) : bisect_right(tops, line.bbox[3])
        ]
        row = [ln for ln in near if same_row(ln.bbox, line.bbox)]
        done.update(id(ln) for ln in row)
        if not all(ln.bold and ln.font_size is not None for ln in row):
            continue
        cells = sorted((c for ln in row for c in _cells(ln)), key=lambda c: c.bbox[0])
        apart = all(b.bbox[0] - a.bbox[2] > 1.5 * height for a, b in pairwise(cells))
        short = all(len(c.text.split()) <= MAX_HEADER_WORDS for c in cells)
        if len(cells) >= 2 and apart and short:
            found.append((cells, row))
    return found


def _table_under(
    header: list[TextLine], on: list[TextLine], below_header: Sequence[TextLine], taken: set[int]
) -> Block | None:
    """The table whose header cells are ``header`` (on the lines ``on``), from the lines
    ``below_header`` (top to bottom) that no table has ``taken``; None when there is none."""
    height = max(c.bbox[3] - c.bbox[1] for c in header)
    row_ids = {id(ln) for ln in on}
    header_bottom = max(c.bbox[3] for c in header)
    below: list[TextLine] = []
    more_header: list[TextLine] = []  # a header cell's second line
    seen = header_bottom  # lines past a wide gap below all seen, or past a bold line, end
    for line in below_header:  # the table in _rows_below: no need to look further
        if id(line) in taken or id(line) in row_ids:
            continue
        if line.bbox[1] - seen > ROW_GAP * height:
            break
        near = line.bold and line.bbox[1] < header_bottom + 0.5 * height
        (more_header if near else below).append(line)
        seen = max(seen, line.bbox[3])
        if line.bold and not near:
            break
    starts = [c.bbox[0] for c in header]
    rows = _rows_below(header, below, _cuts(starts, height), height)
    starts = sorted(starts + _more_columns(rows, starts, height))
    cuts = _cuts(starts, height)
    rows = _rows_below(header, below, cuts, height)
    pieces = [(_column(cell, cuts, height), cell) for ln in rows for cell in _cells(ln)]
    keys = sorted((c for col, c in pieces if col == 0), key=lambda c: c.bbox[1])
    if len(keys) < MIN_ROWS or len({col for col, _ in pieces}) < 2:
        return None
    if median(len(k.text.split()) for k in keys) > MAX_KEY_WORDS:
        return None  # lines of prose down the first column: two columns of text, not a table
    placed = {
        col: _runs(sorted((c for k, c in pieces if k == col), key=lambda c: c.bbox[1]), keys)
        for col in range(1, len(starts))
    }
    runs = {col: col_runs for col, col_runs in placed.items() if col_runs is not None}
    wraps = any(len(run) > 1 for col_runs in runs.values() for run in col_runs)
    if len(runs) < len(placed) or not wraps:
        return None  # lines that fit no row; or no cell wraps: paragraphs() finds such tables
    titles = [""] * len(starts)
    for cell in [*header, *(c for ln in more_header for c in _cells(ln))]:
        col = sum(cell.bbox[0] >= x for x in cuts)  # a heading over two columns: the first
        titles[col] = f"{titles[col]} {cell.text.strip()}".strip()
    grid = [[""] * len(starts) for _ in keys]
    for row, key in enumerate(keys):
        grid[row][0] = key.text.strip()
    for col, col_runs in runs.items():
        for row, run in enumerate(col_runs):
            grid[row][col] = " ".join(c.text.strip() for c in run)
    boxes = [*(c.bbox for c in header), *(ln.bbox for ln in more_header + rows)]
    block = Block("table", union_all(boxes), 1.0)
    block.lines = [*on, *more_header, *rows]
    block.cells = [titles, *grid]
    return block


def _cuts(starts: Sequence[float], height: float) -> list[float]:
    """Where each column after the first begins: a little left of its first cell."""
    return [x - 0.5 * height for x in sorted(starts)[1:]]


def _rows_below(
    header: list[TextLine], below: list[TextLine], cuts: Sequence[float], height: float
) -> list[TextLine]:
    """The lines under the header down to a wide gap, a bold line, or a line that starts left
    of the table or runs across a column's edge (prose, a caption)."""
    left = header[0].bbox[0] - 2 * height
    bottom = max(c.bbox[3] for c in header)
    taken: list[TextLine] = []
    for line in below:
        if line.bbox[1] - bottom > ROW_GAP * height:
            break
        if line.bold:
            break  # a heading, or the next table's header
        crosses = any(_column(cell, cuts, height) is None for cell in _cells(line))
        if line.bbox[0] < left or crosses:
            if line.bbox[1] > bottom:
                break
            continue  # beside the last row (a margin note): not the table's
        taken.append(line)
        bottom = max(bottom, line.bbox[3])
    return taken


def _more_columns(rows: list[TextLine], starts: list[float], height: float) -> list[float]:
    """Column starts the header runs over (two headings set close, "action note"): where two
    or more cells start together, away from every header cell, and no cell runs across."""
    cells = [c for ln in rows for c in _cells(ln)]
    xs = sorted(c.bbox[0] for c in cells)
    found: list[float] = []
    group: list[float] = []
    for x in [*xs, float("inf")]:
        if group and x - group[-1] > height:
            at = group[0]
            away = all(abs(at - s) > 1.5 * height for s in starts + found) and at > min(starts)
            crossed = any(c.bbox[0] < at - height and c.bbox[2] > at + height for c in cells)
            if len(group) >= MIN_ROWS and away and not crossed:
                found.append(at)
            group = []
        group.append(x)
    return found


def _column(cell: TextLine, cuts: Sequence[float], height: float) -> int | None:
    """The column a cell starts in; None when it runs across a column's edge (prose)."""
    col = sum(cell.bbox[0] >= x - 0.5 * height for x in cuts)
    crosses = any(cell.bbox[0] < x - 0.5 * height < cell.bbox[2] - height for x in cuts)
    return None if crosses else col


def _runs(cells: list[TextLine], keys: list[TextLine]) -> list[list[TextLine]] | None:
    """``cells`` (one column, top to bottom) cut into one run per row of ``keys``, each run
    where it fits its row best: its top at the row's top, or its middle at the row's middle.
    A dynamic programme over the cut points (a row's run may be empty); None when the lines
    cannot be placed so."""
    n, rows = len(cells), len(keys)
    inf = float("inf")
    # best[r][i]: least misfit placing cells[:i] into rows[:r]
    best = [[inf] * (n + 1) for _ in range(rows + 1)]
    cut = [[0] * (n + 1) for _ in range(rows + 1)]
    best[0][0] = 0.0
    for r in range(1, rows + 1):
        above = keys[r - 2].bbox[3] if r > 1 else -inf  # a run starts below the row above
        for i in range(n + 1):
            for j in range(i, -1, -1):  # cells[j:i] go to row r - 1; longer runs as j falls
                if j < i and cells[j].bbox[1] < above - (cells[j].bbox[3] - cells[j].bbox[1]):
                    break  # it reaches into the row above, and so would every longer run
                if best[r - 1][j] == inf:
                    continue
                cost = best[r - 1][j] + _misfit(cells[j:i], keys, r - 1)
                if cost < best[r][i]:
                    best[r][i], cut[r][i] = cost, j
    if best[rows][n] == float("inf"):
        return None  # no way to place the column's lines in the rows: not a table
    runs: list[list[TextLine]] = [[] for _ in range(rows)]
    i = n
    for r in range(rows, 0, -1):
        j = cut[r][i]
        runs[r - 1] = cells[j:i]
        i = j
    return runs


def _misfit(run: list[TextLine], keys: list[TextLine], row: int) -> float:
    """How far ``run`` sits from row ``row``'s top or middle, plus every gap in it wider than
    a cell's line spacing (in pixels); infinite when it reaches into the rows above or below."""
    if not run:
        return 0.0
    top, bottom = run[0].bbox[1], run[-1].bbox[3]
    key = keys[row]
    slack = 0.3 * (key.bbox[3] - key.bbox[1])
    if row > 0 and top < keys[row - 1].bbox[3] - slack:
        return float("inf")
    if row + 1 < len(keys) and bottom > keys[row + 1].bbox[1] + slack:
        return float("inf")
    at_top = abs(top - key.bbox[1])
    centred = abs((top + bottom) / 2 - (key.bbox[1] + key.bbox[3]) / 2)
    gaps = sum(
        max(0.0, b.bbox[1] - a.bbox[3] - CELL_GAP * (a.bbox[3] - a.bbox[1]))
        for a, b in pairwise(run)
    )
    return min(at_top, centred) + gaps

"""Structure tokens to a grid: each cell's row, column, spans and whether it is a header cell.

Rows open with ``<tr>``; a cell is ``<td></td>``, or ``<td`` followed by span attributes
(`` colspan="2"``, `` rowspan="3"``) and ``>`` then ``</td>``; cells under ``<thead>`` are
header cells. A cell goes to the first column of its row that no cell above still covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docfleet.runtimes.tables.slanet import CELL_TOKENS

_SPAN = re.compile(r'(colspan|rowspan)="?(\d+)')


@dataclass(frozen=True)
class GridCell:
    """A cell's place: first row and column (0-based), spans, header, and the index of its box
    among the network's cell boxes."""

    row: int
    col: int
    row_span: int
    col_span: int
    header: bool
    box: int


def grid_cells(tokens: list[str]) -> list[GridCell]:
    """The cells of a token sequence, in token order.

    >>> cells = grid_cells(["<thead>", "<tr>", "<td", ' colspan="2"', ">", "</td>", "</tr>",
    ...                     "</thead>", "<tbody>", "<tr>", "<td></td>", "<td></td>", "</tr>"])
    >>> [(c.row, c.col, c.col_span, c.header) for c in cells]
    [(0, 0, 2, True), (1, 0, 1, False), (1, 1, 1, False)]
    """
    cells: list[GridCell] = []
    taken: set[tuple[int, int]] = set()
    row, col, header, in_row = -1, 0, False, False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("<thead>", "</thead>"):
            header = token == "<thead>"
        elif token == "<tr>" or (token in CELL_TOKENS and not in_row):
            row, col, in_row = row + 1, 0, True
        elif token == "</tr>":
            in_row = False
        if token in CELL_TOKENS:
            spans = {"colspan": 1, "rowspan": 1}
            while token == "<td" and i + 1 < len(tokens) and tokens[i + 1] != ">":
                i += 1
                found = _SPAN.search(tokens[i])
                if found is None:
                    break
                spans[found.group(1)] = max(1, int(found.group(2)))
            while (row, col) in taken:
                col += 1
            rows, cols = spans["rowspan"], spans["colspan"]
            taken.update((row + r, col + c) for r in range(rows) for c in range(cols))
            cells.append(GridCell(row, col, rows, cols, header, len(cells)))
            col += cols
        i += 1
    return cells

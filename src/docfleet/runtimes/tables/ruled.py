"""Tables drawn as a full grid, read from their lines: rows and columns between the rulings,
a cell over several where a ruling between them is missing. The reading has the table model's
form (structure tokens and a box per cell), so a ruled table goes on as a read one does.

A crop is a full grid when rulings (long runs of ink, found by a morphological opening) close
the table on all four sides, cut it into two rows or more and two columns or more, and every
cell they bound is a rectangle. Tables ruled only above and below, or under their header, are
no full grid: the table model reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docfleet.runtimes.tables.slanet import TableTokens

MIN_RUN = 40  # px: the shortest ruling segment (a letter's stroke is shorter at 150 dpi)
RUN_SHARE = 1 / 25  # and at least this share of the crop's side
CLOSED = 0.9  # an outer ruling covers this share of the grid's side
PRESENT = 0.6  # a ruling between two cells covers this share of their common side
OVERRUN = 6  # px: a ruling may run this far past the frame (line ends, joins)
MIN_GRID = 60  # px: a page's grid is at least this wide and high


def ruled_reading(crop: np.ndarray) -> TableTokens | None:
    """The grid of ``crop`` (RGB ``uint8``) as structure tokens and cell boxes in crop
    pixels (score 1), or ``None`` when the crop holds no full grid."""
    height, width = crop.shape[:2]
    horizontal, vertical = _masks(crop, max(MIN_RUN, int(width * RUN_SHARE)),
                                  max(MIN_RUN, int(height * RUN_SHARE)))  # fmt: skip
    rows = _rulings(horizontal)  # (y, which x are ruled)
    cols = _rulings(vertical.T)  # (x, which y are ruled)
    if len(rows) < 3 or len(cols) < 3:
        return None
    ys, xs = [y for y, _ in rows], [x for x, _ in cols]
    if not _closed(rows, cols):
        return None
    cells = _cells(rows, cols)
    if cells is None:
        return None
    tokens, boxes = _tokens(cells, xs, ys)
    return TableTokens(tokens, boxes, 1.0)


def grid_boxes(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Where a page (RGB ``uint8``) may hold grids: the boxes of connected rulings at least
    :data:`MIN_GRID` pixels wide and high, in page pixels (each to be read by
    :func:`ruled_reading`; a figure's frame is one too, and reads as no grid or an empty one)."""
    import cv2

    horizontal, vertical = _masks(image, MIN_RUN, MIN_RUN)
    lines = (horizontal | vertical).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    return [
        (int(x), int(y), int(x + w), int(y + h))
        for x, y, w, h, _ in stats[1:count]
        if w >= MIN_GRID and h >= MIN_GRID
    ]


def _masks(image: np.ndarray, across: int, down: int) -> tuple[np.ndarray, np.ndarray]:
    """The horizontal and the vertical rulings of an RGB image: ink (Otsu's threshold) left
    by an opening with a line ``across`` (``down``) pixels long, as boolean masks."""
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, across), np.uint8)) > 0
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((down, 1), np.uint8)) > 0
    return horizontal, vertical


def _rulings(mask: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Rulings along the first axis: each band of rows holding ruled pixels, as its middle
    and which positions along the second axis it covers."""
    hit = mask.any(axis=1)
    out, start = [], None
    for i, on in enumerate([*hit, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            out.append(((start + i - 1) // 2, mask[start:i].any(axis=0)))
            start = None
    return out


def _share(covered: np.ndarray, lo: int, hi: int) -> float:
    """The share of ``covered[lo:hi]`` that is ruled (ends trimmed by the rulings' width)."""
    pad = max(1, (hi - lo) // 20)
    part = covered[lo + pad : hi - pad]
    return float(part.mean()) if part.size else 0.0


def _closed(rows: Sequence[tuple[int, np.ndarray]], cols: Sequence[tuple[int, np.ndarray]]) -> bool:
    """The outermost rulings frame the grid: top and bottom cover its width, left and right
    its height, and no ruling runs on past the frame (a table open at its sides, whose inner
    column rulings would frame only its middle columns)."""
    (top, top_x), (bottom, bottom_x) = rows[0], rows[-1]
    (left, left_y), (right, right_y) = cols[0], cols[-1]
    return (
        min(_share(top_x, left, right), _share(bottom_x, left, right)) >= CLOSED
        and min(_share(left_y, top, bottom), _share(right_y, top, bottom)) >= CLOSED
        and all(_within(covered, left, right) for _, covered in rows)
        and all(_within(covered, top, bottom) for _, covered in cols)
    )


def _within(covered: np.ndarray, lo: int, hi: int) -> bool:
    """The ruling's ruled stretch ends at the frame, give or take its lines' width."""
    ruled = np.flatnonzero(covered)
    slack = max(OVERRUN, (hi - lo) // 50)
    return not ruled.size or (ruled[0] >= lo - slack and ruled[-1] <= hi + slack)


def _cells(
    rows: Sequence[tuple[int, np.ndarray]], cols: Sequence[tuple[int, np.ndarray]]
) -> list[tuple[int, int, int, int]] | None:
    """The grid's cells as (row, col, last row + 1, last col + 1), row by row: neighbouring
    grid squares with no ruling between them are one cell; ``None`` when a cell so joined is
    no rectangle (lines that are not a table's grid)."""
    n_rows, n_cols = len(rows) - 1, len(cols) - 1
    owner = list(range(n_rows * n_cols))

    def find(i: int) -> int:
        while owner[i] != i:
            owner[i] = owner[owner[i]]
            i = owner[i]
        return i

    for r in range(n_rows):
        for c in range(n_cols):
            y0, y1 = rows[r][0], rows[r + 1][0]
            x0, x1 = cols[c][0], cols[c + 1][0]
            if c + 1 < n_cols and _share(cols[c + 1][1], y0, y1) < PRESENT:
                owner[find(r * n_cols + c + 1)] = find(r * n_cols + c)
            if r + 1 < n_rows and _share(rows[r + 1][1], x0, x1) < PRESENT:
                owner[find((r + 1) * n_cols + c)] = find(r * n_cols + c)
    groups: dict[int, list[tuple[int, int]]] = {}
    for i in range(n_rows * n_cols):
        groups.setdefault(find(i), []).append(divmod(i, n_cols))
    cells = []
    for squares in groups.values():
        r0, c0 = min(r for r, _ in squares), min(c for _, c in squares)
        r1, c1 = max(r for r, _ in squares) + 1, max(c for _, c in squares) + 1
        if (r1 - r0) * (c1 - c0) != len(squares):
            return None
        cells.append((r0, c0, r1, c1))
    return sorted(cells)


def _tokens(
    cells: Sequence[tuple[int, int, int, int]], xs: Sequence[int], ys: Sequence[int]
) -> tuple[list[str], list[tuple[float, float, float, float]]]:
    """Structure tokens (as the table model writes them) and one box per cell, row by row."""
    tokens: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    for row in range(len(ys) - 1):
        tokens.append("<tr>")
        for r0, c0, r1, c1 in (cell for cell in cells if cell[0] == row):
            spans = [f' rowspan="{r1 - r0}"'] * (r1 - r0 > 1) + [f' colspan="{c1 - c0}"'] * (
                c1 - c0 > 1
            )
            tokens += ["<td", *spans, ">", "</td>"] if spans else ["<td></td>"]
            boxes.append((float(xs[c0]), float(ys[r0]), float(xs[c1]), float(ys[r1])))
        tokens.append("</tr>")
    return tokens, boxes

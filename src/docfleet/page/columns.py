"""Column gutters of a page: vertical strips that separate columns of text.

A gutter is a strip in the middle part of the page that hardly any line crosses (a title or a
figure spanning the columns may), with a large share of the page's lines on each side. Tables
and paragraphs are found within a column, never across a gutter.
"""

from __future__ import annotations

from collections.abc import Sequence

from docfleet.page.types import TextLine

BIN = 4.0  # pixels per coverage bin
MIN_SIDE_SHARE = 0.2  # each side of a gutter holds at least this share of the lines' height
MAX_CROSSING_SHARE = 0.08  # lines crossing a gutter hold at most this share of it
MIN_COLUMN_WIDTH = 0.25  # a column's median line spans at least this share of the text width


def gutters(lines: Sequence[TextLine]) -> list[float]:
    """The x of each column gutter on the page, left to right (empty for one column)."""
    if len(lines) < 6:
        return []
    x0 = min(ln.bbox[0] for ln in lines)
    x1 = max(ln.bbox[2] for ln in lines)
    bins = int((x1 - x0) / BIN) + 1
    cover = [0.0] * bins
    total = 0.0
    for line in lines:
        height = line.bbox[3] - line.bbox[1]
        total += height
        for part in line.parts or (line,):
            for b in range(int((part.bbox[0] - x0) / BIN), int((part.bbox[2] - x0) / BIN) + 1):
                cover[min(b, bins - 1)] += height
    heights = sorted(ln.bbox[3] - ln.bbox[1] for ln in lines)
    min_run = max(1, int(0.5 * heights[len(heights) // 2] / BIN))
    found: list[float] = []
    start = None
    for b in range(int(0.2 * bins), int(0.8 * bins) + 1):
        low = b < bins and cover[b] <= MAX_CROSSING_SHARE * total
        if low and start is None:
            start = b
        elif not low and start is not None:
            if b - start >= min_run:
                found.append(x0 + (start + b) / 2 * BIN)
            start = None
    return [x for x in found if _both_sides(lines, x, total, x1 - x0)]


def _both_sides(lines: Sequence[TextLine], x: float, total: float, width: float) -> bool:
    """Each side holds a good share of the text, in lines of prose (a table's columns hold
    short cells)."""
    for side in (
        [ln for ln in lines if ln.bbox[2] < x],
        [ln for ln in lines if ln.bbox[0] > x],
    ):
        if sum(ln.bbox[3] - ln.bbox[1] for ln in side) < MIN_SIDE_SHARE * total:
            return False
        widths = sorted(ln.bbox[2] - ln.bbox[0] for ln in side)
        if widths[len(widths) // 2] < MIN_COLUMN_WIDTH * width:
            return False
    return True


def by_column(lines: Sequence[TextLine], cuts: Sequence[float]) -> list[list[TextLine]]:
    """Lines grouped by column (left to right), then the lines that cross a gutter."""
    groups: list[list[TextLine]] = [[] for _ in range(len(cuts) + 2)]
    for line in lines:
        column = sum(line.bbox[0] > x for x in cuts)
        crosses = any(line.bbox[0] < x < line.bbox[2] for x in cuts)
        groups[-1 if crosses else column].append(line)
    return [g for g in groups if g]

"""Boxes ``(x0, y0, x1, y1)`` in page pixels, top-left origin: area, overlap, union."""

from __future__ import annotations

from collections.abc import Iterable

from docfleet.page.types import BBox, TextLine


def area(box: BBox) -> float:
    """The box's area; zero for an empty or inverted box."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: BBox, b: BBox) -> float:
    """The area the two boxes share."""
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def overlap(a: BBox, b: BBox) -> float:
    """The area the two boxes share over the smaller one's (1: one holds the other)."""
    return intersection(a, b) / max(min(area(a), area(b)), 1e-6)


def union(a: BBox, b: BBox) -> BBox:
    """The smallest box holding both."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def union_all(boxes: Iterable[BBox]) -> BBox:
    """The smallest box holding every one of ``boxes`` (at least one)."""
    it = iter(boxes)
    box = next(it)
    for other in it:
        box = union(box, other)
    return box


def line_size(line: TextLine) -> float:
    """The line's font size in pixels (its height when the size is not known)."""
    return line.font_size or (line.bbox[3] - line.bbox[1])


def same_row(a: BBox, b: BBox) -> bool:
    """The boxes overlap vertically by more than half the smaller height."""
    shared = min(a[3], b[3]) - max(a[1], b[1])
    return shared > 0.5 * min(a[3] - a[1], b[3] - b[1])

"""Reading order of blocks on a page: a recursive XY-cut, columns first.

Pure geometry on boxes ``(x0, y0, x1, y1)`` in page pixels, top-left origin.
"""

from __future__ import annotations

from collections.abc import Sequence

from docfleet.page.types import BBox


def reading_order(boxes: Sequence[BBox], band_overlap: float = 0.0) -> list[int]:
    """Indices of ``boxes`` in reading order: columns left to right, each top to bottom.

    A recursive XY-cut that prefers vertical cuts, so full-width titles and footers separate
    bands, and a band of columns is read column by column. Boxes that overlap vertically by
    less than ``band_overlap`` of a box's height still make two bands (OCR boxes of a title
    and the line below it may touch).
    """
    return _xy_cut(list(range(len(boxes))), boxes, band_overlap)


def _xy_cut(idx: list[int], boxes: Sequence[BBox], slack: float) -> list[int]:
    if len(idx) <= 1:
        return idx
    columns = _split(idx, boxes, 0, 0.0)
    if len(columns) > 1:  # a vertical gap: read column by column
        return [i for group in columns for i in _xy_cut(group, boxes, slack)]
    bands = _split(idx, boxes, 1, slack)
    if len(bands) == 1:
        return sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
    # consecutive bands that are each split into columns are one multi-column section: their
    # paragraph gaps may line up across columns, which must not make us read across them
    merged: list[list[int]] = []
    for band in bands:
        if merged and _has_columns(merged[-1], boxes) and _has_columns(band, boxes):
            merged[-1] = merged[-1] + band
        else:
            merged.append(band)
    groups = merged if len(merged) > 1 else bands
    return [i for group in groups for i in _xy_cut(group, boxes, slack)]


def _has_columns(idx: list[int], boxes: Sequence[BBox]) -> bool:
    return len(_split(idx, boxes, 0, 0.0)) > 1


def _split(idx: list[int], boxes: Sequence[BBox], axis: int, slack: float) -> list[list[int]]:
    order = sorted(idx, key=lambda i: boxes[i][axis])
    groups: list[list[int]] = [[order[0]]]
    end = boxes[order[0]][axis + 2]
    for i in order[1:]:
        # a gap (or a touch) along this axis; bands may overlap by ``slack`` of a box's height
        if boxes[i][axis] >= end - max(1.0, slack * (boxes[i][3] - boxes[i][1])):
            groups.append([i])
        else:
            groups[-1].append(i)
        end = max(end, boxes[i][axis + 2])
    return groups

"""From lines and layout regions to blocks in reading order (XY-cut, columns first).

Pure geometry on boxes ``(x0, y0, x1, y1)`` in page pixels, top-left origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from docfleet.pages import BBox, Region, TextLine


@dataclass
class Block:
    """A run of text (or a figure) on the page, with its type and the lines in it."""

    type: str
    bbox: BBox
    score: float
    lines: list[TextLine] = field(default_factory=list)

    def text(self) -> str:
        """The block's lines, row by row; table cells on one row are joined by `` | ``."""
        sep = " | " if self.type == "table" else " "
        return "\n".join(sep.join(line.text.strip() for line in row) for row in rows(self.lines))


def rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into rows (vertical overlap above half the smaller height), left to right."""
    out: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (_cy(ln.bbox), ln.bbox[0])):
        row = out[-1] if out else None
        if row is not None and _same_row(row[-1].bbox, line.bbox):
            row.append(line)
        else:
            out.append([line])
    return [sorted(row, key=lambda ln: ln.bbox[0]) for row in out]


def paragraphs(lines: Sequence[TextLine]) -> list[Block]:
    """Lines grouped into tables (runs of rows of short cells) and paragraphs (stacked lines
    that overlap horizontally, close together, of one size)."""
    tables, rest = _tables(lines)
    blocks: list[Block] = list(tables)
    for line in sorted(rest, key=lambda ln: (ln.bbox[1], ln.bbox[0])):
        home = next((b for b in reversed(blocks) if _continues(b.lines[-1], line)), None)
        if home is None:
            blocks.append(Block("text", line.bbox, line.score, [line]))
        else:
            home.lines.append(line)
            home.bbox = union(home.bbox, line.bbox)
    _mark_titles(blocks, lines)
    return blocks


def _tables(lines: Sequence[TextLine]) -> tuple[list[Block], list[TextLine]]:
    """Runs of two or more adjacent rows whose 2+ cells are all short make table blocks.

    Columns of prose have long lines; table cells are short, so the two are told apart by the
    width of the pieces on a row relative to the text's full width.
    """
    if not lines:
        return [], []
    width = max(ln.bbox[2] for ln in lines) - min(ln.bbox[0] for ln in lines)
    grouped = rows(lines)

    def cells(row: list[TextLine]) -> bool:
        widths = [ln.bbox[2] - ln.bbox[0] for ln in row]
        if len(row) < 2 or max(widths) >= 0.3 * width:
            return False
        if len(row) >= 3:
            return True
        gap = row[1].bbox[0] - row[0].bbox[2]  # two pieces: a table leaves wide gaps
        return gap > 1.5 * max(widths)

    tables: list[Block] = []
    rest: list[TextLine] = []
    run: list[list[TextLine]] = []
    for row in [*grouped, []]:
        if row and cells(row) and (not run or _adjacent(run[-1], row)):
            run.append(row)
            continue
        if len(run) >= 2:
            members = [ln for r in run for ln in r]
            box = members[0].bbox
            for ln in members[1:]:
                box = union(box, ln.bbox)
            tables.append(Block("table", box, 1.0, members))
        else:
            rest.extend(ln for r in run for ln in r)
        run = [row] if row and cells(row) else []
        if row and not cells(row):
            rest.extend(row)
    return tables, rest


def _adjacent(upper: list[TextLine], lower: list[TextLine]) -> bool:
    height = max(ln.bbox[3] - ln.bbox[1] for ln in upper)
    gap = min(ln.bbox[1] for ln in lower) - max(ln.bbox[3] for ln in upper)
    return gap < 2.5 * height


def blocks_from_regions(regions: Sequence[Region], lines: Sequence[TextLine]) -> list[Block]:
    """Each line goes to the region that holds most of it; the rest form paragraphs of their own."""
    kept = _suppress_duplicates(regions)
    blocks = [Block(r.type, r.bbox, r.score) for r in kept]
    orphans = []
    for line in lines:
        best, share = -1, 0.0
        for i, block in enumerate(blocks):
            s = intersection(line.bbox, block.bbox) / max(area(line.bbox), 1e-6)
            if s > share:
                best, share = i, s
        if best >= 0 and share >= 0.5:
            blocks[best].lines.append(line)
        else:
            orphans.append(line)
    textual = {"text", "title", "reference", "header", "footer", "figure_caption", "table_caption"}
    blocks = [b for b in blocks if b.lines or b.type not in textual]
    return blocks + paragraphs(orphans)


def reading_order(boxes: Sequence[BBox]) -> list[int]:
    """Indices of ``boxes`` in reading order: columns left to right, each top to bottom.

    A recursive XY-cut that prefers vertical cuts, so full-width titles and footers separate
    bands, and a band of columns is read column by column.
    """
    return _xy_cut(list(range(len(boxes))), boxes)


def _xy_cut(idx: list[int], boxes: Sequence[BBox]) -> list[int]:
    if len(idx) <= 1:
        return idx
    columns = _split(idx, boxes, 0)
    if len(columns) > 1:  # a vertical gap: read column by column
        return [i for group in columns for i in _xy_cut(group, boxes)]
    bands = _split(idx, boxes, 1)
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
    return [i for group in groups for i in _xy_cut(group, boxes)]


def _has_columns(idx: list[int], boxes: Sequence[BBox]) -> bool:
    return len(_split(idx, boxes, 0)) > 1


def _split(idx: list[int], boxes: Sequence[BBox], axis: int) -> list[list[int]]:
    order = sorted(idx, key=lambda i: boxes[i][axis])
    groups: list[list[int]] = [[order[0]]]
    end = boxes[order[0]][axis + 2]
    for i in order[1:]:
        if boxes[i][axis] >= end - 1.0:  # a gap (or a touch) along this axis
            groups.append([i])
        else:
            groups[-1].append(i)
        end = max(end, boxes[i][axis + 2])
    return groups


def _suppress_duplicates(regions: Sequence[Region]) -> list[Region]:
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.score):
        overlap = max(
            (intersection(region.bbox, k.bbox) / max(min(area(region.bbox), area(k.bbox)), 1e-6))
            for k in kept
        ) if kept else 0.0  # fmt: skip
        if overlap < 0.8:
            kept.append(region)
    return kept


def _mark_titles(blocks: list[Block], lines: Sequence[TextLine]) -> None:
    sizes = [_size(ln) for ln in lines]
    if not sizes:
        return
    typical = median(sizes)
    for block in blocks:
        if len(block.lines) <= 3 and median(_size(ln) for ln in block.lines) > 1.3 * typical:
            block.type = "title"


def _size(line: TextLine) -> float:
    return line.font_size or (line.bbox[3] - line.bbox[1])


def _continues(last: TextLine, line: TextLine) -> bool:
    h_last, h = last.bbox[3] - last.bbox[1], line.bbox[3] - line.bbox[1]
    gap = line.bbox[1] - last.bbox[3]
    x_overlap = min(last.bbox[2], line.bbox[2]) - max(last.bbox[0], line.bbox[0])
    similar = 0.8 <= (_size(line) / max(_size(last), 1e-6)) <= 1.25
    return -0.5 * h < gap < 0.9 * max(h_last, h) and x_overlap > 0 and similar


def _same_row(a: BBox, b: BBox) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap > 0.5 * min(a[3] - a[1], b[3] - b[1])


def _cy(box: BBox) -> float:
    return (box[1] + box[3]) / 2


def area(box: BBox) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: BBox, b: BBox) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def union(a: BBox, b: BBox) -> BBox:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))

"""Printed lines from text-layer lines: pieces written apart joined, and lines split only at
a column gutter or between a table's cells.

Pure geometry on boxes ``(x0, y0, x1, y1)`` in page pixels, top-left origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from docfleet.page.blocks import LIST_MARK, line_size, same_row
from docfleet.page.geometry import union, union_all
from docfleet.page.spacing import leading, set_apart
from docfleet.page.types import TextLine

TERM_CHARS = 12  # a definition list's term is this long at most
ROW_MERGE_GAP = 0.6  # pieces of one row written apart merge across gaps up to this many heights
_NUMBER = re.compile(r"^(?:\d{1,3}|[A-Z]|[IVX]{1,4})(?:\.\d{1,3})*\.?$")  # "1.3", "A.2", "IV"


def merge_rows(lines: Sequence[TextLine]) -> list[TextLine]:
    """Pieces of one printed line that the producer wrote apart are joined, left to right.

    Two lines on one baseline whose gap is under ``ROW_MERGE_GAP`` line heights are one line
    (``Copyright`` written after the ``©`` and the year that follow it); a wider gap is a
    column gutter or a table cell, and stays.
    """
    out: list[TextLine] = []
    for line in lines:
        for i in range(len(out) - 1, max(-1, len(out) - 12), -1):
            joined = _joined(out[i], line)
            if joined is not None:
                out[i] = joined
                break
        else:
            out.append(line)
    return out


def _joined(a: TextLine, b: TextLine) -> TextLine | None:
    if not same_row(a.bbox, b.bbox) or abs(line_size(a) / max(line_size(b), 1e-6) - 1) > 0.25:
        return None
    left, right = (a, b) if a.bbox[0] <= b.bbox[0] else (b, a)
    height = max(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1])
    gap = right.bbox[0] - left.bbox[2]
    if not -0.2 * height < gap < ROW_MERGE_GAP * height:
        return None
    parts = (*(left.parts or (left,)), *(right.parts or (right,)))
    return TextLine(
        text=f"{left.text} {right.text}",
        bbox=union(a.bbox, b.bbox),
        score=min(a.score, b.score),
        font_size=max(a.font_size or 0, b.font_size or 0) or None,
        bold=a.bold and b.bold,
        mono=a.mono and b.mono,
        parts=parts if left.parts or right.parts else (),
    )


def split_gutters(lines: Sequence[TextLine]) -> list[TextLine]:
    """A line whose parts straddle an empty vertical strip (a column gutter, a table's column
    gap) is split there; other wide gaps (a section number before its title, a definition
    list's term before its description) keep it whole."""
    out: list[TextLine] = []
    lead = leading(lines)
    for i, line in enumerate(lines):
        if not line.parts or _entry(lines, i, lead):
            out.append(replace(line, parts=()) if line.parts else line)  # one cell
            continue
        pieces = [[line.parts[0]]]
        for part in line.parts[1:]:
            x0, x1 = pieces[-1][-1].bbox[2], part.bbox[0]
            if not _numbered(line, pieces) and _empty_strip(lines, line, (x0 + x1) / 2):
                pieces.append([part])
            else:
                pieces[-1].append(part)
        out.extend(_line_of(line, group) for group in pieces)
    return out


def _entry(lines: Sequence[TextLine], i: int, lead: dict[float, float]) -> bool:
    """The line is a definition list's entry: a short term at the left, its description
    beside it, the entry set apart from the lines around it by a paragraph's skip (a table's
    rows follow one another at the text's own spacing), or its description going on below
    under itself (a hanging indent)."""
    line = lines[i]
    if len(line.parts) != 2:
        return False  # three cells or more: a table's row
    term, rest = line.parts[0], line.parts[1:]
    height = line.bbox[3] - line.bbox[1]
    if len(term.text) > TERM_CHARS or len(term.text.split()) > 2:
        return False
    near = [ln for ln in lines[max(0, i - 3) : i + 4] if ln is not line]
    if any(ln.bbox[0] < term.bbox[0] - 0.5 * height for ln in near):
        return False  # the term is not at the text's left edge
    prev = lines[i - 1] if i > 0 else None
    after = lines[i + 1] if i + 1 < len(lines) else None
    above = prev is None or prev.bbox[3] > line.bbox[1] or set_apart(prev, line, lead)
    below = after is None or after.bbox[1] < line.bbox[3] or set_apart(line, after, lead)
    hanging = (  # the description's next line, under it (or right of it: a word carried up)
        after is not None
        and after.bbox[0] > rest[0].bbox[0] - 0.5 * height
        and after.bbox[1] >= line.bbox[3] - 0.5 * height
        and not below
    )
    return above and (below or hanging) and not _headed(lines, i)  # no table's row


def _headed(lines: Sequence[TextLine], i: int) -> bool:
    """Rows of cells whose second starts where line ``i``'s does run up from it to a bold row,
    no line between them crossing that start (a cell's own lines start there): a table under
    its header."""
    line = lines[i]
    x, height = line.parts[1].bbox[0], line.bbox[3] - line.bbox[1]
    rows = sorted(
        (ln for ln in lines
         if len(ln.parts) > 1 and abs(ln.parts[1].bbox[0] - x) < 0.5 * height
         and ln.bbox[3] <= line.bbox[1] + 0.5 * height),
        key=lambda ln: -ln.bbox[1],
    )  # fmt: skip
    top = line.bbox[1]
    for row in rows:
        between = [ln for ln in lines if row.bbox[3] <= ln.bbox[1] and ln.bbox[3] <= top]
        if any(ln.bbox[0] < x - 0.5 * height < ln.bbox[2] for ln in between):
            return False
        if row.bold:
            return True
        top = row.bbox[1]
    return False


def _numbered(line: TextLine, pieces: list[list[TextLine]]) -> bool:
    """The line so far is a number or a mark its text follows: a section's number before its
    title, a list item's bullet or letter before its text (set in a column of their own, they
    leave an empty strip down the page like a gutter), or a code listing's line number (a
    monospaced line opened by digits)."""
    text = pieces[-1][-1].text
    first = len(pieces) == 1 and len(pieces[0]) == 1
    listing = line.mono and first and text.isdigit()
    return bool(_NUMBER.match(text)) or listing or (first and bool(LIST_MARK.match(text)))


def _empty_strip(lines: Sequence[TextLine], line: TextLine, x: float) -> bool:
    """No neighbouring line (within three line heights) crosses ``x``, and neighbours hold
    text on both sides of it: a column structure, not one line's wide gap."""
    height = line.bbox[3] - line.bbox[1]
    top, bottom = line.bbox[1] - 3 * height, line.bbox[3] + 3 * height
    near = [ln for ln in lines if ln is not line and ln.bbox[3] > top and ln.bbox[1] < bottom]
    if any(_crosses(ln, x) for ln in near):
        return False
    pieces = [p for ln in near for p in (ln.parts or (ln,))]
    return any(p.bbox[2] < x for p in pieces) and any(p.bbox[0] > x for p in pieces)


def _crosses(line: TextLine, x: float) -> bool:
    return any(p.bbox[0] < x < p.bbox[2] for p in (line.parts or (line,)))


def _line_of(line: TextLine, parts: list[TextLine]) -> TextLine:
    if len(parts) == len(line.parts):
        return line
    return TextLine(
        " ".join(p.text for p in parts),
        union_all(p.bbox for p in parts),
        line.score,
        line.font_size,
        line.bold,
        line.mono,
        tuple(parts) if len(parts) > 1 else (),
    )

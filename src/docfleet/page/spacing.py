"""Where a paragraph or a list item ends, from the white between lines: a gap wider than the
page's own gap between a paragraph's lines by a step (paragraphs set apart by a little space,
not indented), and a line that starts left of a list item's hanging text. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from docfleet.page.geometry import line_size
from docfleet.page.marks import LIST_MARK
from docfleet.page.types import TextLine

PARA_GAP = 0.8  # a vertical gap wider than this many line heights ends a paragraph
LEAD_STEP = 0.3  # and one wider than a paragraph's own line gap by this many line heights
LEAD_SAMPLES = 6  # the gaps needed to know a page's own (else PARA_GAP alone decides)
LEAD_QUANTILE = 4  # the page's own gap: the lowest quarter's top (a page of one-line entries
# set apart by a skip under PARA_GAP has more of those skips than gaps inside paragraphs)


def leading(lines: Sequence[TextLine]) -> dict[float, float]:
    """The white between a line and the next in the same paragraph, in line heights (by
    :func:`pitch`), for each font size (:func:`size_key`) of which enough lines follow one
    another closely: the median of their gaps. A size missing here (too few lines, an OCR
    page's boxes of many heights) has its paragraphs told by ``PARA_GAP`` alone.

    >>> rows = [TextLine("x", (0, 30 * k, 100, 30 * k + 24)) for k in range(8)]
    >>> {k: round(v, 2) for k, v in leading(rows).items()}, leading(rows[:3])
    ({24.0: 0.25}, {})
    """
    gaps: dict[float, list[float]] = {}
    for a, b in pairwise(lines):
        size, gap = line_size(a), b.bbox[1] - a.bbox[3]
        if abs(size - line_size(b)) < 0.05 * size and 0 <= gap < PARA_GAP * size:
            gaps.setdefault(size_key(a), []).append(pitch(a, b))
    return {
        k: sorted(v)[len(v) // LEAD_QUANTILE] for k, v in gaps.items() if len(v) >= LEAD_SAMPLES
    }


def set_apart(upper: TextLine, lower: TextLine, lead: dict[float, float]) -> bool:
    """A paragraph's skip between two lines: wider than the page's own gap for their size
    (``lead``, from :func:`leading`) by ``LEAD_STEP``; where that is not known, wider than
    ``PARA_GAP`` line heights."""
    own = lead.get(size_key(upper))
    if own is None:
        height = max(upper.bbox[3] - upper.bbox[1], lower.bbox[3] - lower.bbox[1])
        return lower.bbox[1] - upper.bbox[3] >= PARA_GAP * height
    return pitch(upper, lower) >= own + LEAD_STEP


def size_key(line: TextLine) -> float:
    """The line's size to the half pixel: lines of a text layer's one font size share it."""
    return round(line_size(line) * 2) / 2


def pitch(upper: TextLine, lower: TextLine) -> float:
    """The white between two lines as their bottoms (near their baselines) place them, in
    line heights: a line's glyphs (a lowercase URL, a formula) do not move its bottom as much
    as its top."""
    height = max(upper.bbox[3] - upper.bbox[1], lower.bbox[3] - lower.bbox[1], 1e-6)
    return (lower.bbox[3] - upper.bbox[3] - height) / height


def item_ended(first: TextLine, line: TextLine) -> bool:
    """Whether ``line`` starts left of the text of the list item opened by ``first`` (whose
    bullet or letter is a piece of its own): the text after a list, not the item's."""
    if len(first.parts) < 2 or not LIST_MARK.match(first.parts[0].text):
        return False
    return line.bbox[0] < first.parts[1].bbox[0] - 0.5 * (line.bbox[3] - line.bbox[1])


def term_apart(line: TextLine) -> bool:
    """The line's first word is set far from the next (three line heights or more): a
    definition list's term ("-", "*" naming operators), not a bullet before its item's text."""
    words, height = line.words, line.bbox[3] - line.bbox[1]
    return len(words) >= 2 and words[1][0] - words[0][1] >= 3 * height

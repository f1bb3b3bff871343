"""Display formulas on text-layer pages: the pieces a typeset formula leaves in a text layer
(a fraction's numerator and denominator on rows of their own, a centred row of signs and
one-letter names) gathered into one ``equation`` block, which the Markdown shows as the
formula's image, as on OCR pages, rather than as lines of prose.

A display formula is set in from the text's left edge, holds no sentence, is not in a
typewriter font (code), has its rows to itself (but for its number) and states a relation
(=, <, a similarity, a membership ...) between short names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from docfleet.page.blocks import Block
from docfleet.page.columns import by_column, gutters
from docfleet.page.ocr_code import PROMPT
from docfleet.page.types import TextLine

SET_IN = 2.5  # a display starts this many line heights right of the text's left edge or more
WIDEST = 0.75  # and spans this share of the column's width at most
PAD = 0.3  # the block's box reaches this many line heights past its text (a fraction's bar)
NAME_LETTERS = 3.0  # a row of math has names this long on average at most (x, e2, log, %C)
#: Math signs: relations, operators, big operators, arrows, set signs (minus is U+2212).
SIGNS = (
    "=<>\u2264\u2265\u2260\u2248\u2261\u223c\u2243\u221d\u00b1\u00d7\u00f7\u00b7\u2211\u220f"
    "\u222b\u222e\u221a\u2202\u2207\u221e\u2192\u2190\u21a6\u21d2\u21d4\u2208\u2209\u2282\u2286\u2283\u222a\u2229\u2200\u2203\u2212+"
)
_RELATION = re.compile(
    "[=<>\u2264\u2265\u2260\u2248\u2261\u223c\u2243\u221d\u2192\u21d2\u21d4\u2208\u2282\u2286]"
)  # equals, less, less or equal, about, similar, in, subset ...
_TAG = re.compile(r"^\(\d{1,3}(?:\.\d{1,3})*[a-z]?\)$")  # an equation's number, "(4.1)"


def display_formulas(lines: Sequence[TextLine]) -> tuple[list[Block], list[TextLine]]:
    """The page's display formulas as ``equation`` blocks (their lines in reading order: top
    to bottom, left to right) and the lines left for paragraphs, in their own order."""
    found: list[Block] = []
    taken: set[int] = set()
    for column in by_column(lines, gutters(lines)):
        for group in _groups(column):
            if _formula(group) and _alone(group, column):
                block = Block("equation", group[0].bbox, 1.0)
                for line in sorted(group, key=lambda ln: (ln.bbox[1], ln.bbox[0])):
                    block.add(line)
                pad = PAD * min(ln.bbox[3] - ln.bbox[1] for ln in group)  # bars, big signs
                x0, y0, x1, y1 = block.bbox
                block.bbox = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
                found.append(block)
                taken.update(id(ln) for ln in group)
    return found, [ln for ln in lines if id(ln) not in taken]


def _groups(column: Sequence[TextLine]) -> list[list[TextLine]]:
    """The column's lines set in like a display, grouped where they touch (a fraction's parts,
    a formula's rows), each with the equation numbers beside it."""
    body = [ln for ln in column if ln.bbox[2] - ln.bbox[0] > 0.5 * _span(column)]
    if len(body) < 2:
        return []
    left = min(ln.bbox[0] for ln in body)
    width = max(ln.bbox[2] for ln in body) - left
    pool = [ln for ln in column if _set_in(ln, left, width)]
    groups: list[list[TextLine]] = []
    for line in sorted(pool, key=lambda ln: ln.bbox[1]):
        near = [g for g in groups if any(_touch(ln, line) for ln in g)]
        merged = [line] + [ln for g in near for ln in g]
        groups = [g for g in groups if g not in near] + [merged]
    for group in groups:  # an equation number at the right, on a row of the formula
        top, bottom = min(ln.bbox[1] for ln in group), max(ln.bbox[3] for ln in group)
        group += [ln for ln in column if _TAG.match(ln.text.strip()) and ln not in group
                  and top <= (ln.bbox[1] + ln.bbox[3]) / 2 <= bottom]  # fmt: skip
    return groups


def _alone(group: Sequence[TextLine], column: Sequence[TextLine]) -> bool:
    """No other text on the formula's rows (a chart's labels, a table's cells have some)."""
    top, bottom = min(ln.bbox[1] for ln in group), max(ln.bbox[3] for ln in group)
    height = min(ln.bbox[3] - ln.bbox[1] for ln in group)
    return not any(
        min(bottom, ln.bbox[3]) - max(top, ln.bbox[1]) > 0.3 * height
        for ln in column
        if ln not in group
    )


def _span(column: Sequence[TextLine]) -> float:
    return max(ln.bbox[2] for ln in column) - min(ln.bbox[0] for ln in column)


def _set_in(line: TextLine, left: float, width: float) -> bool:
    height = line.bbox[3] - line.bbox[1]
    return (
        not line.mono
        and line.bbox[0] >= left + SET_IN * height
        and line.bbox[2] - line.bbox[0] <= WIDEST * width
        and not _sentence(line.text)
    )


def _touch(a: TextLine, b: TextLine) -> bool:
    """Pieces of one formula: rows closer than half a line, ends closer than two lines."""
    height = min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1])
    v_gap = max(a.bbox[1], b.bbox[1]) - min(a.bbox[3], b.bbox[3])
    h_gap = max(a.bbox[0], b.bbox[0]) - min(a.bbox[2], b.bbox[2])
    return v_gap < 0.5 * height and h_gap < 2 * height


def _formula(group: Sequence[TextLine]) -> bool:
    """A relation between short names (a chart's labels and a glyph table's rows have none)."""
    text = " ".join(ln.text for ln in group)
    if not any(c in SIGNS for c in text) or not any(c.isalnum() for c in text):
        return False
    if "<-" in text or any(PROMPT.match(ln.text) for ln in group):
        return False  # a line of code set in a roman font
    names = [w for w in re.split(rf"[\s{re.escape(SIGNS)}(),;]+", text) if w]
    short = bool(names) and sum(len(w) for w in names) / len(names) <= NAME_LETTERS
    return short and bool(_RELATION.search(text))


def _sentence(text: str) -> bool:
    """Four words of three letters or more: prose (a formula's names are short)."""
    return sum(len(w) >= 3 and w.isalpha() for w in text.split()) >= 4

"""Paragraphs and list items inside a text region of an OCR page.

The layout model often draws several paragraphs, or a paragraph and the list after it, as one
text region. OCR boxes are padded and overlap, so the white between them says little; the
distance from one line's baseline (read from the pixels, else its box's bottom) to the next
(the pitch), where lines start and where they stop do. A region is cut before a line

- set further below the line above than the region's own pitch (space between paragraphs),
- indented after a line that stopped short, or indented alone between lines at the left
  edge (a first-line indent, not a hanging one),
- back at the left edge after indented lines, or indented deep after a line that stopped short
  (a list begins or ends), or back at the left edge after a line of a hanging indent that
  stopped short (the next entry of a bibliography or a definition list),
- starting a new item in a run of deeply indented lines (the line above stopped short),
- opening with a bullet or a number after a line that stopped short or ended a sentence.

The deeply indented parts are list items when there are two or more of them in a row or the
text before them ends with a colon.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from statistics import median

from docfleet.page.blocks import Block, rows
from docfleet.page.geometry import union_all
from docfleet.page.marks import BULLETS, ITEM, numbered_on
from docfleet.page.types import BBox, TextLine

PITCH_STEP = 1.2  # a pitch this many times the region's own starts a paragraph
INDENT = 0.8  # line heights: a first-line indent
DEEP = 2.0  # line heights: a list item's indent
SHORT = 2.0  # line heights short of the region's right edge: a line that stopped short


@dataclass
class _Row:
    lines: list[TextLine]
    box: BBox

    @property
    def text(self) -> str:
        return " ".join(ln.text.strip() for ln in self.lines)

    @property
    def base(self) -> float:
        """The baseline read from the pixels (the box's bottom where none was read)."""
        known = [ln.baseline for ln in self.lines if ln.baseline is not None]
        return median(known) if known else self.box[3]


def split_region(block: Block) -> list[Block]:
    """``block`` (a text region's lines) cut into paragraphs and list items, in order."""
    units = [_Row(row, union_all(ln.bbox for ln in row)) for row in rows(block.lines)]
    if len(units) < 2:
        return [block]
    height = median(u.box[3] - u.box[1] for u in units)
    steps = [b.base - a.base for a, b in pairwise(units)]
    usual = sorted(s for s in steps if 0 < s < 2 * height)  # its lowest quarter's top: a
    pitch = usual[len(usual) // 4] if usual else height  # region of short paragraphs has
    # as many steps between paragraphs as within them
    lefts = sorted(u.box[0] for u in units)
    left = lefts[len(lefts) // 10]
    rights = sorted(u.box[2] for u in units)
    right = rights[(len(rights) * 9) // 10]

    def indent(u: _Row) -> float:
        return (u.box[0] - left) / height

    def short(u: _Row) -> bool:
        return u.box[2] < right - SHORT * height

    parts: list[list[_Row]] = [[units[0]]]
    after = [*units[2:], None]  # the line after ``b``
    for (a, b), c, step in zip(pairwise(units), after, steps, strict=True):
        spaced = step > PITCH_STEP * pitch
        set_in = INDENT < indent(b) <= DEEP and indent(a) < INDENT / 2
        alone = c is None or indent(c) < INDENT / 2  # set in alone: no hanging indent
        first_line = ((short(a) or (alone and c is not None)) and set_in) or (
            short(a) and indent(b) > INDENT and indent(b) - indent(a) > INDENT
        )
        leaves = indent(a) > DEEP and indent(b) < INDENT
        enters = short(a) and indent(b) > DEEP and indent(a) < INDENT
        next_item = (
            short(a)
            and indent(a) > DEEP
            and abs(indent(b) - indent(a)) < INDENT
            and not b.text[:1].islower()  # an item opens as a sentence does, not "http://..."
        )
        back = short(a) and indent(a) > INDENT and indent(b) < INDENT / 2  # a hanging indent
        marked = bool(ITEM.match(b.text)) and (short(a) or a.text.endswith((".", ":", ";")))
        if spaced or first_line or leaves or enters or next_item or back or marked:
            parts.append([b])
        else:
            parts[-1].append(b)
    if len(parts) == 1:
        return [block]
    deep = [indent(p[0]) > DEEP or bool(ITEM.match(p[0].text)) for p in parts]
    out: list[Block] = []
    for i, part in enumerate(parts):
        run = (i > 0 and deep[i - 1]) or (i + 1 < len(parts) and deep[i + 1])
        after_colon = i > 0 and parts[i - 1][-1].text.rstrip().endswith(":")
        numbered = numbered_on(part[0].lines[0], [p[0].lines[0] for p in parts[i + 1 :]])
        item = deep[i] and (run or after_colon or numbered or part[0].text[:1] in BULLETS)
        opens_item = i == 0 and block.type == "list_item"  # the item the region began with
        other = "text" if block.type == "list_item" else block.type
        kind = "list_item" if item or opens_item else other
        box = union_all(u.box for u in part)  # the region's width: reading order as before
        piece = Block(kind, (block.bbox[0], box[1], block.bbox[2], box[3]), block.score)
        piece.lines = [ln for u in part for ln in u.lines]
        out.append(piece)
    return out

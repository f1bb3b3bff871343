"""Code the fonts do not tell: listings cut by a blank line made whole again (code blocks that
follow one another in reading order, one just under the other, are one code block), and
grammars set in roman and italic (BNF productions) typed as code."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from docfleet.page.blocks import Block
from docfleet.page.geometry import union

BLANK_LINES = 2.5  # line heights of white between two parts of one listing, at most


def join_code(blocks: Sequence[Block]) -> list[Block]:
    """``blocks`` (in reading order) with each code block that goes on the one before it
    merged into it: right under it (a blank line or two between) and overlapping it across."""
    out: list[Block] = []
    for block in blocks:
        last = out[-1] if out else None
        if last is not None and last.type == block.type == "code" and _goes_on(last, block):
            last.lines += block.lines
            last.bbox = union(last.bbox, block.bbox)
        else:
            out.append(block)
    return out


def _goes_on(upper: Block, lower: Block) -> bool:
    height = median(ln.bbox[3] - ln.bbox[1] for ln in upper.lines + lower.lines)
    gap = lower.bbox[1] - upper.bbox[3]
    across = min(upper.bbox[2], lower.bbox[2]) - max(upper.bbox[0], lower.bbox[0])
    return -0.5 * height < gap < BLANK_LINES * height and across > 0


def grammars(blocks: Sequence[Block]) -> None:
    """Type ``code`` each paragraph that is a grammar's productions: every line a rule
    (``name ::= ...``) or an alternative going on from one (``| ...``)."""
    for block in blocks:
        texts = [ln.text.strip() for ln in block.lines]
        rules = any("::=" in t for t in texts)
        if block.type == "text" and rules and all("::=" in t or t[:1] == "|" for t in texts):
            block.type = "code"

"""Contents lists on OCR pages: rows of a title and a page number kept as rows.

The layout model draws a contents list as one text region, or cuts it into regions side by
side (section numbers, titles, a column of page numbers); either way its lines would be run
together as prose. Both are made one contents block here, its rows read across.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from docfleet.page.blocks import Block, rows
from docfleet.page.geometry import same_row, union_all
from docfleet.page.marks import CJK, PAGE_REF

MIN_ROWS = 3
ENDING_SHARE = 0.75  # of a contents list's rows, the share that end in a page number
_SECTION = re.compile(r"^\d{1,2}(?:\.\d{1,3})+\.?(?:\s|$)")
_NUMBER = re.compile(r"^(?:\d{1,4}(?:\.\d{1,3})*\.?|[ivxlc]{1,7})$", re.I)  # "9", "2.1", "xii"
_LEADER_TAIL = re.compile(r"(?:\s*[.·…_]){2,}\s*$")


def contents(rows_text: Sequence[Sequence[str]], least: float = 1.0) -> bool:
    """Rows of a title and a page number (at least ``least`` of them), the numbers never going
    back: a contents list (a table of figures is not: its rows hold no title, or its last
    column goes up and down).

    >>> contents([["1 Introduction", "9"], ["2 Usage", "12"]])
    True
    >>> contents([["Width", "12"], ["Height", "9"]])
    False
    """
    ends = [_page(row) for row in rows_text]
    if len(rows_text) < 2 or sum(e is not None for e in ends) < least * len(rows_text):
        return False
    titled = [" ".join(row)[: len(" ".join(row)) - len(e or "")]
              for row, e in zip(rows_text, ends, strict=True)]  # fmt: skip
    if not all(re.search(r"[^\W\d_]{2}", t) for t in titled):
        return False
    pages = [int(e) for e in ends if e is not None and e.isdigit()]
    return all(a <= b for a, b in pairwise(pages))


def _page(row: Sequence[str]) -> str | None:
    """The page number a row ends with, or None: its last cell, or the last word of a row of
    one cell (after any leader dots OCR read)."""
    if len(row) >= 2:
        return row[-1] if PAGE_REF.match(row[-1]) else None
    text = _LEADER_TAIL.sub("", row[0].strip()) if row else ""
    last = text.rpartition(" ")[2]
    return last if PAGE_REF.match(last) and len(text) > len(last) else None


def ocr_contents(blocks: list[Block]) -> list[Block]:
    """``blocks`` with contents lists made ``toc`` blocks: regions side by side (numbers,
    titles, page numbers) whose rows read across as contents joined into one, and a text region
    whose rows are contents."""
    out = list(blocks)
    i = 0
    while i < len(out):
        first = out[i]
        group = [first] + [b for b in out if b is not first and _side_by_side(first, b)]
        if len(group) > 1 and _listy(first):
            lines = [ln for b in group for ln in b.lines]
            merged = Block("toc", union_all(ln.bbox for ln in lines), first.score)
            merged.lines = [ln for row in rows(lines) for ln in row]
            cells = merged.rows()
            if contents(cells, ENDING_SHARE) or numbered(cells):
                out = [b for b in out if all(b is not g for g in group)]
                out.insert(min(i, len(out)), merged)
                continue  # the joined block may have more neighbours
        i += 1
    for block in out:
        if block.type == "text" and len(block.lines) >= MIN_ROWS:
            cells = [[ln.text.strip() for ln in row] for row in rows(block.lines)]
            if len(cells) >= MIN_ROWS and (contents(cells, ENDING_SHARE) or numbered(cells)):
                block.type = "toc"
                block.lines = [ln for row in rows(block.lines) for ln in row]
    if any(b.type == "toc" for b in out):  # entries the model took for titles or lines
        out, given = _numbers_given(out)
        for block in out:
            cells = [[ln.text.strip() for ln in row] for row in rows(block.lines)]
            listed = len(cells) > 1 and (contents(cells, ENDING_SHARE) or numbered(cells))
            entry = len(cells) == 1 and (_entry(cells[0]) or id(block) in given)
            if block.type in ("title", "text") and (listed or entry):
                block.type = "toc"
                block.lines = [ln for row in rows(block.lines) for ln in row]
    return out


def _numbers_given(blocks: list[Block]) -> tuple[list[Block], set[int]]:
    """A contents page's region of numbers alone (page numbers, or section numbers) gives each
    number to the block holding a line on its row (the entry it belongs to); the blocks, and
    the ids of those given one."""
    out, given = list(blocks), set[int]()
    for block in blocks:
        if block.type != "text" or not all(_NUMBER.match(ln.text.strip()) for ln in block.lines):
            continue
        homes = [next((b for b in out if b is not block and b.type in ("title", "text", "toc")
                       and any(same_row(ln.bbox, m.bbox) for m in b.lines)), None)
                 for ln in block.lines]  # fmt: skip
        if block.lines and all(home is not None for home in homes):
            for line, home in zip(block.lines, homes, strict=True):
                assert home is not None
                home.lines.append(line)
                home.bbox = union_all([home.bbox, line.bbox])
                given.add(id(home))
            out.remove(block)
    return out, given


def numbered(rows_text: Sequence[Sequence[str]]) -> bool:
    """Rows most of which open with a dotted section number ("2.4") and none of which runs on
    as prose: a contents list whose page numbers OCR did not read.

    >>> numbered([["1.1", "Scope"], ["1.2 Terms"], ["1.3", "Layout of the text"]])
    True
    >>> numbered([["2.5 kg of flour are mixed with the water, the salt and the yeast until"]])
    False
    """
    texts = [" ".join(row) for row in rows_text]
    opened = sum(bool(_SECTION.match(t)) for t in texts)
    return opened >= max(MIN_ROWS, ENDING_SHARE * len(texts)) and all(
        len(t.split()) <= 12 for t in texts
    )


def _entry(row: Sequence[str]) -> bool:
    """A row of a title of two words or more, then a page number (after leaders or not)."""
    page = _page(row)
    text = " ".join(row)
    return bool(page) and len(text.split()) >= 3 and bool(re.search(r"[^\W\d_]{2}", text))


def _listy(block: Block) -> bool:
    """A text region of short lines (no line of prose): a part of a contents list."""
    return (
        block.type in ("text", "toc")
        and bool(block.lines)
        and all(len(ln.text.split()) + len(CJK.findall(ln.text)) // 2 <= 12 for ln in block.lines)
    )


def _side_by_side(block: Block, other: Block) -> bool:
    """Two lists of short lines beside each other, most lines of one on the rows of the other."""
    if not (_listy(block) and _listy(other)):
        return False
    across = min(block.bbox[2], other.bbox[2]) - max(block.bbox[0], other.bbox[0])
    narrower = min(block.bbox[2] - block.bbox[0], other.bbox[2] - other.bbox[0])
    if across > 0.2 * narrower:
        return False
    fewer, more = sorted((block, other), key=lambda b: len(b.lines))
    paired = sum(any(same_row(ln.bbox, m.bbox) for m in more.lines) for ln in fewer.lines)
    return paired >= 0.5 * len(fewer.lines)

"""Page furniture on one page: running headers, footers and page numbers, from where a line
sits, how it is set apart from the body and what it looks like.

A line is furniture when it lies in the top or bottom margin zone, is short, set apart from the
text under (or above) it, and is shaped like furniture: a page number ("12", "- 12 -", "Page 3
of 9", "iv"), a line carrying one at an end ("Debian Reference 62 / 233"), or a short line that
is no sentence. Code (a monospaced font, or code's own signs on OCR pages), a title larger than
the body text and a line the body runs into stay in the body. What one page cannot tell (a
running head shaped like a sentence) is left to the document (:mod:`docfleet.page.furniture`),
which compares the pages' edge blocks that :func:`edge_candidates` names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from statistics import median

from docfleet.page.blocks import Block, line_size, rows, same_row
from docfleet.page.types import TextLine

MARGIN_ZONE = 0.12  # headers and footers sit in the top and bottom eighth of the page
#: A lone page number may sit higher: LaTeX's classes set it 17% above an A4 page's bottom.
NUMBER_ZONE = 0.2
MODEL_ZONE = 0.15  # a header or footer region of the layout model, on an OCR page
SIDE_ZONE = 1 / 12  # upright text beside the body, at a side of the page
CANDIDATE_ZONE = 0.2  # edge blocks the document may still find repeated
APART = 1.4  # line heights between furniture and the body (a paragraph's gap is about one)
MARGINS = ("header", "footer")
EDGE_TYPES = ("text", "title", "list_item", "reference", "footnote")
_CAPTIONS = ("caption", "figure_caption", "table_caption")
_NUMBER = r"(?:\d{1,5}|[ivxlcdm]{1,8})"
#: A page number alone: "12", "- 12 -", "Page 3", "Page 3 of 9", "3 / 9", "iv", "(iv)".
PAGE_NUMBER = re.compile(
    rf"^(?:page\s+)?{_NUMBER}(?:\s*(?:/|of)\s*\d{{1,5}})?$"
    r"|^[-\u2013\u2014]\s*\d{1,5}\s*[-\u2013\u2014]$|^\(\s*[ivxlcdm]{1,8}\s*\)$",
    re.I,
)
#: A page number at a line's start or end, set off by a space or a bar ("62 Chapter 6",
#: "Debian Reference 62 / 233", "April 3, 2022 | 7"); roman numerals only in lowercase.
_ROMAN = r"(?=[ivxlc])(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"  # i to xcix, lowercase
_CARRIED = re.compile(
    rf"^(?:page\s+)?(?:\d{{1,5}}|{_ROMAN})(?:\s*/\s*\d{{1,5}})?\s*\|?\s+\S"
    rf"|\S\s+\|?\s*(?:page\s+)?(?:\d{{1,5}}(?:\s*(?:/|of)\s*\d{{1,5}})?|{_ROMAN})$"
)
#: What code looks like where no font says so (OCR): a call, an assignment arrow, a brace or
#: semicolon at the end, a comment sign, R's printed index.
_CODE = re.compile(r"[A-Za-z_]\w*\([^()]*\)\s*[;{]?$|<-|[{};]\s*$|^\s*(?://|#\s|/\*)|^\[\d+\]")
_SENTENCE_END = (".", "!", "?", ":", ";")


def page_number_value(text: str) -> int | None:
    """The value of a page number set alone (roman numerals too), else None.

    >>> [page_number_value(t) for t in ("12", "- 12 -", "Page 3 of 9", "iv", "x2", "3 / 9")]
    [12, 12, 3, 4, None, 3]
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if not PAGE_NUMBER.match(text):
        return None
    found = re.search(r"\d{1,5}", text)
    if found:
        return int(found.group())
    return _roman(re.sub(r"(?i)^page\s+|[()\s]", "", text))


def _roman(text: str) -> int | None:
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
    digits = [values[c] for c in text.lower() if c in values]
    if not digits or len(digits) != len(text):
        return None
    return sum(-d if i + 1 < len(digits) and d < digits[i + 1] else d for i, d in enumerate(digits))


def carries_page_number(text: str) -> bool:
    """A page number alone, or at the line's start or end.

    >>> [carries_page_number(t) for t in ("Debian Reference 62 / 233", "56 Chapter 6. Scripts",
    ...  "Rcpp Vignette | April 3, 2022 | 7", "Auto Multiple Choice iv", "Version 1.04")]
    [True, True, True, True, False]
    >>> carries_page_number("A history of the war, civil"), carries_page_number("xii Preface")
    (False, True)
    """
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return bool(PAGE_NUMBER.match(text) or _CARRIED.search(text))


def looks_like_code(text: str) -> bool:
    """Code's own signs on a line (for OCR lines, which carry no font).

    >>> looks_like_code("return(boot_stat)"), looks_like_code("GNU Octave (version 7.3.0)")
    (True, False)
    """
    return any(_CODE.search(line.strip()) for line in text.splitlines())


def furniture_shaped(block: Block, body: float, *, number_zone: bool = False) -> bool:
    """Short and shaped like furniture: a page number, or a line carrying one (a running head
    may be set a little larger than the body), or a short line no larger than the body that is
    no sentence; never code. ``number_zone``: only a page number alone will do."""
    text = " ".join(line.text for line in block.lines).strip()
    if not text or len(rows(block.lines)) > 2 or len(text.split()) > 16:
        return False
    if any(line.mono for line in block.lines) or looks_like_code(text):
        return False
    if PAGE_NUMBER.match(text):
        return True
    ratio = _size(block) / body if body else 1.0
    sized = block.lines[0].font_size is not None  # OCR box heights are rougher than fonts
    if number_zone or ratio > (1.35 if sized else 1.6):
        return False
    if carries_page_number(text):
        return True
    sentence = len(text.split()) >= 6 and text.endswith(_SENTENCE_END)
    return ratio <= (1.1 if sized else 1.3) and not sentence


def mark_margins(blocks: list[Block], width: float, height: float, body: float) -> None:
    """Type the page's furniture ``header`` or ``footer`` in place: the layout model's header and
    footer regions that pass the rule (the others become text, or a title when large), then the
    top and bottom rows of blocks that pass it, and text set upright in a side margin. A page
    number a region or a paragraph took in as its last (or first) line is split off first."""
    _split_numbers(blocks, height)
    for block in blocks:
        if block.type in MARGINS and block.lines:
            top = block.bbox[1] + block.bbox[3] < height
            if not _model_furniture(block, height, body, top=top):
                large = body and _size(block) > 1.3 * body
                block.type = "title" if large else "text"
    for kind, top in (("header", True), ("footer", False)):
        kinds = (*EDGE_TYPES, *_CAPTIONS, "table", kind)
        group = _edge_group([b for b in blocks if b.lines and b.type in kinds], top=top)
        if group and all(_furniture(b, blocks, group, height, body, top=top) for b in group):
            for block in group:
                block.type = kind
    _split_side_labels(blocks, width)
    for block in blocks:
        if block.type in EDGE_TYPES and _side_label(block, width):
            block.type = "header"


def _side_label(block: Block, width: float) -> bool:
    """A few words set upright (each line much taller than wide) in the outer twelfth of the
    page's width: a report's side label, an archive's stamp, a thumb index."""
    text = block.text().strip()
    fits = len(block.lines) <= 2 and 2 <= len(text) <= 60
    return fits and all(_upright_aside(line, width) for line in block.lines)


def _upright_aside(line: TextLine, width: float) -> bool:
    outer = line.bbox[2] <= width * SIDE_ZONE or line.bbox[0] >= width * (1 - SIDE_ZONE)
    return outer and line.bbox[3] - line.bbox[1] > 2.5 * (line.bbox[2] - line.bbox[0])


def _split_side_labels(blocks: list[Block], width: float) -> None:
    """Upright lines at a side of the page that a paragraph beside them took in (OCR lines of
    one row join their neighbours) become blocks of their own."""
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if block.type not in (*EDGE_TYPES, *_CAPTIONS) or len(block.lines) < 2:
            continue
        aside = [ln for ln in block.lines if _upright_aside(ln, width)]
        if aside and len(aside) < len(block.lines):
            blocks[i] = _rebuilt(block, [ln for ln in block.lines if not _upright_aside(ln, width)])
            for line in aside:
                blocks.insert(i + 1, _rebuilt(Block("text", line.bbox, 1.0), [line]))


def _model_furniture(block: Block, height: float, body: float, *, top: bool) -> bool:
    """A header or footer region of the layout model is kept as one in the margin zone when
    short and no code nor sentence; a large one only when it is a few words (a journal's or a
    firm's name), not a title of many (a paper's)."""
    text = block.text().strip()
    if not _inside(block.bbox, height, MODEL_ZONE, top=top) or len(rows(block.lines)) > 2:
        return False
    if looks_like_code(text) or len(text.split()) > 16:
        return False
    if furniture_shaped(block, body):
        return True
    sentence = len(text.split()) >= 6 and text.endswith(_SENTENCE_END)
    few = len(text.split()) < 4 and len(text) < 12
    return few and not sentence


def _furniture(
    block: Block, blocks: list[Block], group: list[Block], height: float, body: float, *, top: bool
) -> bool:
    if block.type in MARGINS:
        return True
    text = block.text().strip()
    if any(b.type in MARGINS for b in group):  # beside a header the layout model found
        return _beside_model(block, height, top=top)
    if block.type == "table" or (block.type == "title" and not carries_page_number(text)):
        return False  # the layout model's title (OCR) is a heading, not a running head
    caption = block.type in _CAPTIONS  # the model's guess at a line at the page's foot
    if _inside(block.bbox, height, MARGIN_ZONE, top=top):
        shaped = furniture_shaped(block, body) and (not caption or carries_page_number(text))
        if not shaped or PAGE_NUMBER.match(text):
            return shaped
        apart = 0.8 if carries_page_number(text) else APART  # a page number is evidence too
        return _gap(block, blocks, group, top=top) > apart
    if _inside(block.bbox, height, NUMBER_ZONE, top=top) and len(group) == 1:
        return furniture_shaped(block, body, number_zone=True) and (
            _gap(block, blocks, group, top=top) > APART
        )
    return False


def _beside_model(block: Block, height: float, *, top: bool) -> bool:
    """A row-mate of a header (footer) region the layout model found is furniture too when it
    lies in the margin zone and is a few short rows: a newspaper's band of page, date and
    editors; never code, nor a table the table model read."""
    text = block.text().strip()
    short = len(rows(block.lines)) <= 3 and len(text.split()) <= 30
    plain = block.table is None and not any(ln.mono for ln in block.lines)
    return (
        _inside(block.bbox, height, MARGIN_ZONE, top=top)
        and short
        and plain
        and (not looks_like_code(text))
    )


def _edge_group(blocks: Sequence[Block], *, top: bool) -> list[Block]:
    """The blocks of the top (or bottom) row, and of the row next to it when both are short
    lines stacked close together ("NO." over "Date" in a notebook's corner)."""
    if not blocks:
        return []
    order = sorted(blocks, key=lambda b: b.bbox[1] if top else -b.bbox[3])
    first = [b for b in blocks if same_row(b.bbox, order[0].bbox)]
    rest = [b for b in order if not _member(b, first)]
    if not rest or any(len(b.text().split()) > 3 or b.type == "title" for b in first):
        return first
    nxt = rest[0]
    height = max(ln.bbox[3] - ln.bbox[1] for b in first for ln in b.lines)
    gap = nxt.bbox[1] - max(b.bbox[3] for b in first) if top else min(
        b.bbox[1] for b in first) - nxt.bbox[3]  # fmt: skip
    stacked = any(_x_overlap(nxt.bbox, b.bbox) > 0 for b in first) and 0 <= gap < height
    if stacked and len(nxt.text().split()) <= 3 and len(nxt.lines) == 1 and nxt.type != "title":
        return [*first, nxt]
    return first


def _gap(block: Block, blocks: Sequence[Block], group: Sequence[Block], *, top: bool) -> float:
    """Line heights between the block and the nearest block under it (above it, at the foot)
    that shares some of its width; a great many when none does."""
    line_h = max(block.lines[0].bbox[3] - block.lines[0].bbox[1], 1e-6)
    edge = max(b.bbox[3] for b in group) if top else min(b.bbox[1] for b in group)
    gaps = []
    for other in blocks:
        if _member(other, group) or _x_overlap(other.bbox, block.bbox) <= 0:
            continue
        distance = other.bbox[1] - edge if top else edge - other.bbox[3]
        if distance >= -1:
            gaps.append(max(distance, 0.0))
    return min(gaps) / line_h if gaps else 1e6


def _member(item: object, group: Sequence[object]) -> bool:
    return any(item is member for member in group)


def _x_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return min(a[2], b[2]) - max(a[0], b[0])


def _inside(bbox: tuple[float, ...], height: float, zone: float, *, top: bool) -> bool:
    return bbox[3] <= zone * height if top else bbox[1] >= height - zone * height


def _size(block: Block) -> float:
    return median(line_size(line) for line in block.lines)


def _split_numbers(blocks: list[Block], height: float) -> None:
    """A page number that a region (or a paragraph) took in as its last line, set well below
    the line above it at the page's foot (or as its first line at the top), becomes a block of
    its own: the layout model draws a text region over a slide's last item and its number."""
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        grouped = rows(block.lines) if block.type in EDGE_TYPES else []
        if len(grouped) < 2:
            continue  # one row, or none: nothing to split off
        for top, row, near in ((False, grouped[-1], grouped[-2]), (True, grouped[0], grouped[1])):
            box = _extent(row)
            gap = _extent(near)[1] - box[3] if top else box[1] - _extent(near)[3]
            number = PAGE_NUMBER.match(" ".join(line.text for line in row).strip())
            if number and _inside(box, height, NUMBER_ZONE, top=top) and gap > box[3] - box[1]:
                blocks[i] = _rebuilt(block, [ln for ln in block.lines if not _member(ln, row)])
                blocks.insert(i if top else i + 1, _rebuilt(Block("text", box, 1.0), row))
                break


def _extent(lines: Sequence[TextLine]) -> tuple[float, float, float, float]:
    return (min(ln.bbox[0] for ln in lines), min(ln.bbox[1] for ln in lines),
            max(ln.bbox[2] for ln in lines), max(ln.bbox[3] for ln in lines))  # fmt: skip


def _rebuilt(block: Block, lines: Sequence[TextLine]) -> Block:
    """``block`` with only ``lines``, its box theirs."""
    out = Block(block.type, lines[0].bbox, block.score, level=block.level)
    for line in lines:
        out.add(line)
    return out


def edge_candidates(blocks: Sequence[Block], height: float, body: float) -> dict[int, str]:
    """The blocks (by index) at the page's top and bottom edges that are not furniture on this
    page but would be if the document repeats them: short text in the outer fifth, set apart
    from the body, no code and no title larger than the body (unless it carries a page number);
    none on a side whose furniture this page found. Side: ``top`` or ``bottom``."""
    textual = [b for b in blocks if b.lines]
    found: dict[int, str] = {}
    for side, top, kind in (("top", True, "header"), ("bottom", False, "footer")):
        if not textual or any(b.type == kind for b in textual):
            continue
        first = min(textual, key=lambda b: b.bbox[1] if top else -b.bbox[3])
        row = [b for b in textual if same_row(b.bbox, first.bbox)]
        for i, block in enumerate(blocks):
            if (
                _member(block, row)
                and block.type in EDGE_TYPES
                and _inside(block.bbox, height, CANDIDATE_ZONE, top=top)
                and _could_repeat(block, body)
                and _gap(block, blocks, row, top=top) >= 1.0
                and not (i and _runs_on(blocks[i - 1], block))
            ):
                found.setdefault(i, side)
    return found


def _runs_on(before: Block, block: Block) -> bool:
    """The block goes on the paragraph read before it (no sentence end, a lowercase start):
    body text, which the Markdown joins to that paragraph."""
    previous = before.text().rstrip()
    prose = before.type in ("text", "list_item") and block.type == "text"
    return prose and not previous.endswith((".", ":", "!", "?")) and block.text()[:1].islower()


def _could_repeat(block: Block, body: float) -> bool:
    text = block.text().strip()
    if len(rows(block.lines)) > 2 or len(text.split()) > 20 or not text:
        return False
    if any(line.mono for line in block.lines) or looks_like_code(text):
        return False
    sized = block.lines[0].font_size is not None
    large = body and _size(block) > (1.25 if sized else 1.6) * body
    return not large or carries_page_number(text)

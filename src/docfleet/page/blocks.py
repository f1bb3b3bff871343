"""From lines to blocks: paragraphs, list items, tables, layout regions.

Pure geometry on boxes ``(x0, y0, x1, y1)`` in page pixels, top-left origin. Text-layer lines
arrive in content order (the order the producer wrote them), which within a column is the
order a person reads; OCR lines arrive in no useful order and are sorted top to bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from docfleet.page.columns import by_column, gutters
from docfleet.page.geometry import line_size, overlap, same_row, union
from docfleet.page.marks import BULLETS, ITEM, LIST_MARK, PAGE_REF, TITLED_CAPTION, numbered_on
from docfleet.page.spacing import item_ended, leading, set_apart, term_apart
from docfleet.page.types import BBox, Region, Table, TextLine

WIDEST_CELL = 0.45  # a row with a cell wider than this share of the text is no table's row
SIZE_STEP = 1.08  # text-layer lines whose font sizes differ more than this are not one block
OCR_SIZE_STEP = 1.3  # OCR lines likewise, by box height (brackets and accents make boxes taller)
TEXTUAL_REGIONS = {
    "text", "title", "reference", "header", "footer", "figure_caption", "table_caption",
}  # fmt: skip


@dataclass
class Block:
    """A run of text (or a figure) on the page, with its type and its lines in reading order.

    ``type`` is a layout class: ``text``, ``title`` (with ``level`` 1-5), ``list_item``,
    ``table``, ``toc``, ``code``, ``caption``, ``footnote``, ``header``, ``footer``, or a
    region class of the layout model (``figure``, ``equation``, ...).
    """

    type: str
    bbox: BBox
    score: float
    lines: list[TextLine] = field(default_factory=list)
    level: int = 0
    cells: list[list[str]] | None = None  # a table's rows of cells, when built from its header
    table: Table | None = None  # the table's structure, when the table model read it

    def add(self, line: TextLine) -> None:
        self.lines.append(line)
        self.bbox = union(self.bbox, line.bbox) if len(self.lines) > 1 else line.bbox

    def rows(self) -> list[list[str]]:
        """The block's text as rows of cells (one cell per row unless it is a table)."""
        if self.cells is not None:
            return [list(row) for row in self.cells]
        if self.type not in ("table", "toc"):
            return [[line.text.strip()] for line in self.lines]
        return [
            [cell.text.strip() for line in row for cell in (line.parts or (line,))]
            for row in rows(self.lines)
        ]

    def text(self) -> str:
        """Plain text: lines in order; a table's cells on one row are separated by tabs."""
        return "\n".join("\t".join(row) for row in self.rows())


def rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into rows (vertical overlap above half the smaller height), left to right."""
    out: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (_cy(ln.bbox), ln.bbox[0])):
        row = out[-1] if out else None
        if row is not None and same_row(row[-1].bbox, line.bbox):
            row.append(line)
        else:
            out.append([line])
    return [sorted(row, key=lambda ln: ln.bbox[0]) for row in out]


def paragraphs(lines: Sequence[TextLine], *, ordered: bool = False) -> list[Block]:
    """Lines grouped into tables (runs of rows of cells) and paragraphs or list items.

    ``ordered`` lines (a text layer, in content order) join the paragraph before them when they
    continue it; unordered ones (OCR) are sorted top to bottom and join any paragraph above.
    """
    tables, rest = table_runs(lines)
    blocks: list[Block] = list(tables)
    if ordered:
        order = {id(ln): i for i, ln in enumerate(lines)}
        groups = [sorted(rest, key=lambda ln: order[id(ln)])]
    else:  # a paragraph never spans a column gutter (its lines' order says nothing of that)
        groups = [sorted(column, key=lambda ln: (ln.bbox[1], ln.bbox[0]))
                  for column in by_column(rest, gutters(rest))]  # fmt: skip
    for group in groups:
        own: list[Block] = []
        lead = leading(group)
        for line in group:
            candidates = reversed(own[-4:] if ordered else own)
            home = next((b for b in candidates if _continues(b, line, lead)), None)
            if home is None:
                last = own[-1] if own else (blocks[-1] if blocks else None)
                item = ITEM.match(line.text) and not term_apart(line)
                starts = last is None or _item_starts(last, line) or numbered_on(line, group)
                item = item and starts
                block = Block("list_item" if item else "text", line.bbox, line.score)
                block.add(line)
                own.append(block)
            else:
                home.add(line)
        blocks += own
    return blocks


def table_runs(
    lines: Sequence[TextLine], widest: float = WIDEST_CELL
) -> tuple[list[Block], list[TextLine]]:
    """Runs of rows of aligned cells as ``table`` blocks, found column by column (a table
    never spans a column gutter), and the lines left out of them."""
    tables: list[Block] = []
    rest: list[TextLine] = []
    for column in by_column(lines, gutters(lines)):
        found, others = _tables(column, widest)
        tables += found
        rest += others
    return tables, rest


def _continues(block: Block, line: TextLine, lead: dict[float, float]) -> bool:
    """The line goes on the block: just below its last line (no wider apart than the page's
    lines of a paragraph, ``lead``, by a step), overlapping it, the same size, and not a new
    paragraph, list item, code beside prose, or text under a list item's hanging indent."""
    last = block.lines[-1]
    h = line.bbox[3] - line.bbox[1]
    gap = line.bbox[1] - last.bbox[3]
    x_overlap = min(block.bbox[2], line.bbox[2]) - max(block.bbox[0], line.bbox[0])
    ratio = line_size(line) / max(line_size(last), 1e-6)
    sized = line.font_size is not None and last.font_size is not None  # a text layer's sizes
    similar = (
        1 / SIZE_STEP <= ratio <= SIZE_STEP
        if sized
        else 1 / OCR_SIZE_STEP <= ratio <= OCR_SIZE_STEP
    )
    apart = set_apart(last, line, lead)  # by the page's own gap for the size
    if apart or not (-0.5 * h < gap and x_overlap > 0 and similar):
        return False
    if block.type == "list_item" and item_ended(block.lines[0], line):
        return False  # left of the item's text: the item has ended
    if last.mono != line.mono or (ITEM.match(line.text) and _item_starts(block, line)):
        return False  # code beside prose, or a new list item
    term = line.bbox[0] > last.bbox[0] + 2 * h  # a bold term, its description set in under it
    heading = sized and last.bold and line.bold  # a heading set on two lines
    if len(block.lines) == 1 and not (term or heading) and _alone(last, line, h):
        return False  # a caption, a centred formula or a label alone over a paragraph
    if len(block.lines) == 1 and TITLED_CAPTION.match(last.text) and line.text[:1].isupper():
        return False
    if sized and not line.bold and all(ln.bold for ln in block.lines) and not term:
        return False  # a bold heading, then the text under it
    indented = line.bbox[0] > max(block.bbox[0], last.bbox[0]) + 0.8 * h
    ended_short = last.bbox[2] < block.bbox[2] - 2 * h
    first, second = block.lines[0], block.lines[min(1, len(block.lines) - 1)]
    indents = first.bbox[0] > second.bbox[0] + 0.8 * h  # the block's own first line is set in
    # a first-line indent after a line that stopped short, or where the block's own first line
    # was, starts a paragraph (a list item's hanging indent after a full first line goes on)
    return not (
        indented and (ended_short or (indents and abs(line.bbox[0] - first.bbox[0]) < 0.5 * h))
    )


def _alone(first: TextLine, line: TextLine, height: float) -> bool:
    """A paragraph's first line is as long as the next and starts where it does, or a little
    right of it (an indent): one shorter by half, or set in far, is a line of its own (lines of
    verse, set ragged, differ less)."""
    width = line.bbox[2] - line.bbox[0]
    return first.bbox[2] < line.bbox[2] - 0.5 * width or first.bbox[0] > line.bbox[0] + 4 * height


def _item_starts(block: Block, line: TextLine) -> bool:
    """A line opening like a list item starts one: a bullet always; a number ("34)") only
    after a line that ended a sentence or stopped short, or within a list."""
    if line.text[:1] in BULLETS or block.type == "list_item":
        return True
    last = block.lines[-1]
    height = last.bbox[3] - last.bbox[1]
    return last.text.rstrip().endswith((".", ":", ";", "!", "?")) or (
        last.bbox[2] < block.bbox[2] - 2 * height
    )


def _tables(lines: Sequence[TextLine], widest: float) -> tuple[list[Block], list[TextLine]]:
    """Runs of two or more adjacent rows of two or more aligned cells make table blocks.

    A cell is a line (OCR) or a part of a line (text layer). Prose columns are told apart by
    the width of the cells relative to the text's full width.
    """
    if not lines:
        return [], []
    width = max(ln.bbox[2] for ln in lines) - min(ln.bbox[0] for ln in lines)
    grouped = rows(lines)

    def is_row(row: list[TextLine]) -> bool:
        if all(ln.mono for ln in row):
            return False  # monospaced text set apart is code (or its output), not cells
        pieces = _cells(row)
        widths = [c.bbox[2] - c.bbox[0] for c in pieces]
        if len(pieces) < 2 or max(widths) >= widest * width:
            return False
        if len(pieces) == 2 and LIST_MARK.match(pieces[0].text):
            return False  # a list item: its bullet, then its text
        if len(pieces) >= 3:
            return True
        if all(len(p.text.split()) >= 4 for p in pieces):
            return False  # two runs of prose side by side: columns, not cells
        gap = pieces[1].bbox[0] - pieces[0].bbox[2]  # two pieces: a table leaves wide gaps
        return gap > 1.5 * (pieces[0].bbox[3] - pieces[0].bbox[1])

    tables: list[Block] = []
    rest: list[TextLine] = []
    run: list[list[TextLine]] = []
    prose: set[int] | None = None  # the lines in rows of body text, found when first needed
    for row in [*grouped, []]:
        if row and is_row(row) and (not run or _adjacent(run[-1], row)):
            run.append(row)
            continue
        members = [ln for r in run for ln in r]
        if len(run) >= 2 and aligned(run):
            prose = prose_lines(lines) if prose is None else prose  # once, when needed
        if len(run) >= 2 and aligned(run) and _share(members, prose) < 0.5:
            block = Block("table", run[0][0].bbox, 1.0)
            for member in members:
                block.add(member)
            tables.append(block)
        else:
            rest.extend(ln for r in run for ln in r)
        run = [row] if row and is_row(row) else []
        if row and not is_row(row):
            rest.extend(row)
    return tables, rest


def prose_share(lines: Sequence[TextLine], context: Sequence[TextLine] | None = None) -> float:
    """The share of ``lines`` in rows of body text (:func:`prose_lines` of ``context``, the
    page's lines around them; ``lines`` themselves by default)."""
    return _share(lines, prose_lines(lines if context is None else context))


def _share(lines: Sequence[TextLine], ids: set[int] | None) -> float:
    return sum(id(ln) in ids for ln in lines) / len(lines) if lines and ids else 0.0


def prose_lines(lines: Sequence[TextLine]) -> set[int]:
    """The ids of ``lines`` in rows of body text set in columns: most cells of the row (lines,
    or a text layer's parts of lines) in a column of body text, i.e. a column (cells starting
    at one x) of four or more of
    which most are words set to the column's full width (justified text ends each line at
    one x; a table's cells end where their text does, and numbers are not words) or
    sentences set ragged. Multi-column prose has rows of aligned "cells" too; this tells it
    apart, while a row that pairs a term with its description is a table's row.
    """
    cells = [cell for line in lines for cell in (line.parts or (line,))]  # text-layer cells
    if len(cells) < 4:
        return set()
    height = sorted(c.bbox[3] - c.bbox[1] for c in cells)[len(cells) // 2]
    columns: list[list[TextLine]] = []
    for cell in sorted(cells, key=lambda c: c.bbox[0]):
        if columns and cell.bbox[0] - columns[-1][0].bbox[0] <= 0.8 * height:  # no drift
            columns[-1].append(cell)
        else:
            columns.append([cell])
    prose: set[int] = set()
    for column in columns:
        if len(column) < 4:
            continue
        ends = [c.bbox[2] for c in column]
        full = sum(
            _wordy(c.text, 6)
            and (sum(abs(c.bbox[2] - e) <= 0.35 * height for e in ends) >= 4 or _sentence(c.text))
            for c in column
        )  # justified: the line ends where three others of its column do (a column's sections
        # may differ in width: a newspaper's articles)
        if full >= 0.6 * len(column):
            prose.update(id(c) for c in column)
    return {
        id(line)
        for row in rows(lines)
        if sum(id(c) in prose for c in _cells(row)) >= 0.6 * len(_cells(row))
        for line in row
    }


def _wordy(text: str, least: int) -> bool:
    """``least`` characters or more, mostly letters (CJK characters are letters)."""
    chars = [c for c in text if not c.isspace()]
    return len(chars) >= least and sum(c.isalpha() for c in chars) >= 0.6 * len(chars)


def _sentence(text: str) -> bool:
    """A line of running text set ragged: five words or more, twenty-five letters or more."""
    return len(text.split()) >= 5 and _wordy(text, 25)


def _cells(row: list[TextLine]) -> list[TextLine]:
    return [cell for line in row for cell in (line.parts or (line,))]


def aligned(run: Sequence[Sequence[TextLine]]) -> bool:
    """Most rows share two cell starts or ends with the row above (columns line up)."""
    hits = 0
    for upper, lower in pairwise(run):
        tol = 0.8 * (upper[0].bbox[3] - upper[0].bbox[1])
        others = [(c.bbox[0], c.bbox[2]) for c in _cells(lower)]
        shared = sum(
            any(abs(c.bbox[0] - b0) < tol or abs(c.bbox[2] - b1) < tol for b0, b1 in others)
            for c in _cells(upper)
        )
        hits += shared >= 2
    return hits >= max(1, (len(run) - 1) // 2)


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
        for i, block in enumerate(blocks):  # the region holding the line, or held by it
            if (s := overlap(line.bbox, block.bbox)) > share:
                best, share = i, s
        if best >= 0 and share >= 0.5:
            blocks[best].lines.append(line)
        else:
            orphans.append(line)
    orphans = [ln for ln in orphans if not _joins_a_row(ln, blocks)]
    misread: set[int] = set()
    for block in blocks:
        if block.type not in TEXTUAL_REGIONS and prose(block.lines):
            orphans += block.lines  # text the model took for a figure: read it as text
            block.lines = []
            misread.add(id(block))
        block.lines = [ln for row in rows(block.lines) for ln in row]
    blocks = [b for b in blocks
              if b.lines or (b.type not in TEXTUAL_REGIONS and id(b) not in misread)]  # fmt: skip
    blocks = [part for b in blocks for part in (_list_items(b) if b.type == "text" else [b])]
    return blocks + paragraphs(orphans)


def _list_items(block: Block) -> list[Block]:
    """A text region whose lines open with bullets is split into its items (and the text
    before the first): the layout model marks a list as one region of text."""
    out: list[Block] = []
    for line in block.lines:
        starts = line.text[:1] in BULLETS and ITEM.match(line.text)
        if not out or (starts and _item_starts(out[-1], line)):
            out.append(Block("list_item" if starts else block.type, line.bbox, block.score))
        out[-1].add(line)
    if len(out) == 1:
        block.type = out[0].type  # one item, or no list: the region as the model drew it
        return [block]
    for part in out:  # the region's width, the item's height: reading order as before
        part.bbox = (block.bbox[0], part.bbox[1], block.bbox[2], part.bbox[3])
    return out


def _joins_a_row(line: TextLine, blocks: list[Block]) -> bool:
    """A line just beside a region's line on the same row (a page number the region left out
    of its contents entry) joins that region; other text beside a region (a caption at the
    top of the next column) stays apart."""
    if not PAGE_REF.match(line.text.strip(" .")):
        return False
    height = line.bbox[3] - line.bbox[1]
    for block in blocks:
        if block.type not in TEXTUAL_REGIONS:
            continue
        gap = max(block.bbox[0] - line.bbox[2], line.bbox[0] - block.bbox[2])
        if gap < 2 * height and any(same_row(ln.bbox, line.bbox) for ln in block.lines):
            block.lines.append(line)
            return True
    return False


def prose(lines: Sequence[TextLine]) -> bool:
    """Enough words to be text rather than a figure's labels (a chart has a few)."""
    words = sum(any(c.isalpha() for c in w) for ln in lines for w in ln.text.split())
    return len(lines) >= 5 and words >= 30


def _suppress_duplicates(regions: Sequence[Region]) -> list[Region]:
    kept: list[Region] = []  # each region overlapping no better one by 80% of the smaller
    for region in sorted(regions, key=lambda r: -r.score):
        if all(overlap(region.bbox, k.bbox) < 0.8 for k in kept):
            kept.append(region)
    return kept


def _cy(box: BBox) -> float:
    return (box[1] + box[3]) / 2

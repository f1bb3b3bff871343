"""Blocks in reading order to a page's plain text and its Markdown.

The plain text keeps every word of every block, line by line, with no Markdown syntax; the
Markdown is what a person would want to read: headings by level, paragraphs joined across line
breaks, lists, tables as GitHub tables, code blocks, tables of contents as lists, and no running
headers, footers or page numbers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from itertools import pairwise
from urllib.parse import quote

from docfleet.page.blocks import BULLETS, PAGE_REF, Block, rows
from docfleet.page.geometry import line_size
from docfleet.page.types import TextLine

SKIPPED_IN_MARKDOWN = {"header", "footer"}
_ORNAMENT = re.compile(r"[\s\u2500-\u257f\u2700-\u27bf]+")  # box drawing, dingbats alone
_LEADER_TAIL = re.compile(r"\s*(?:\.\s?){3,}\s*(\S{1,8})\s*$")
_BULLET = re.compile(rf"^[{re.escape(BULLETS)}]\s+")
_ENUMERATOR = re.compile(r"^\(?(\d{1,3}|[a-zA-Z]|[ivxlc]{1,5})([.)])\s+")
_SOFT_HYPHEN_END = re.compile(r"(?<=[^\W\d_])-$")
_ITEM_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")  # a Markdown list item's mark


def page_text(blocks: Sequence[Block]) -> str:
    """Plain reading-order text: blocks separated by blank lines, lines by newlines."""
    return "\n\n".join(t for t in (dehyphenate(b.text()) for b in blocks) if t)


def page_markdown(
    blocks: Sequence[Block], apart: Collection[int] = (), images: Mapping[int, str] | None = None
) -> str:
    """Markdown of one page (see the module docstring). The blocks at the indices ``apart``
    (edge blocks the document may find to be furniture) are paragraphs of their own, never run
    on, so that a document can leave out exactly :func:`paragraph_markdown` of them. The blocks
    at the indices of ``images`` are shown as the image at that path (a formula's crop)."""
    parts: list[str] = []
    previous = ""
    shown: Block | None = None  # the block rendered last
    images = images or {}
    marks: list[float] = []  # where the open list's items of each level start
    for i, block in enumerate(blocks):
        if i in images:
            parts.append(image_markdown(block.type, images[i]))
            previous = ""
            continue
        if block.type in SKIPPED_IN_MARKDOWN or not block.lines:
            continue
        rendered = _render(block)
        if not rendered:
            continue
        if i in apart:
            parts.append(rendered)
            previous = ""
            continue
        if (
            parts
            and previous == block.type == "text"
            and _runs_on(parts[-1], rendered)
            and not _after_display(shown, block)
        ):
            parts[-1] = dehyphenate(parts[-1] + "\n" + rendered).replace("\n", " ")
        elif (
            parts
            and previous == "list_item"
            and block.type == "text"
            and _runs_on(parts[-1], rendered)
        ):  # the list's last item goes on past a region's edge
            head, _, item = parts[-1].rpartition("\n")
            item = dehyphenate(item + "\n" + rendered).replace("\n", " ")
            parts[-1] = f"{head}\n{item}" if head else item
            shown = block
            continue  # still in the list
        elif parts and previous == "list_item" and block.type == "text" and _set_in(shown, block):
            pad = " " * _item_text_column(parts[-1])  # the item's own next paragraph
            parts[-1] += "\n\n" + "\n".join(pad + ln for ln in rendered.split("\n"))
            shown = block
            continue  # still in the list
        elif parts and block.type == previous and block.type in ("list_item", "toc"):
            level = _level(marks, block) if block.type == "list_item" else 0
            tail = parts[-1].rsplit("\n", 1)[-1]  # after an item's own paragraph, a blank line
            gap = "\n\n" if tail[:1] == " " and not _ITEM_MARK.match(tail) else "\n"
            parts[-1] += gap + "    " * level + rendered  # one list, nested by indentation
        else:
            parts.append(rendered)
            marks = [block.bbox[0]] if block.type == "list_item" else []
        previous, shown = block.type, block
    return "\n\n".join(parts)


def image_markdown(kind: str, path: str) -> str:
    """An image of a block, its path relative to the document's Markdown (percent-encoded).

    >>> image_markdown("formula", "a b.pdf.assets/page-3-formula-1.png")
    '![formula](a%20b.pdf.assets/page-3-formula-1.png)'
    """
    return f"![{kind}]({quote(path)})"


def _level(marks: list[float], item: Block) -> int:
    """The item's depth in the list whose open levels start at ``marks`` (updated): set in
    right of the last level's items by half a line or more, one deeper; else the level
    whose items start where it does (or the nearest left of it)."""
    x, step = item.bbox[0], 0.5 * (item.lines[0].bbox[3] - item.lines[0].bbox[1])
    while len(marks) > 1 and x < marks[-1] - step:
        marks.pop()
    if x > marks[-1] + step:
        marks.append(x)
    return len(marks) - 1


def _set_in(item: Block | None, block: Block) -> bool:
    """``block`` is set in right of the list item's mark: a paragraph of the item."""
    if item is None or not item.lines:
        return False
    return block.bbox[0] > item.bbox[0] + 0.5 * line_size(item.lines[0])


def _item_text_column(markdown: str) -> int:
    """Where the text of the last list item in ``markdown`` starts (its mark's width)."""
    for line in reversed(markdown.split("\n")):
        mark = _ITEM_MARK.match(line)
        if mark:
            return len(mark.group(0))
    return 2


def _after_display(before: Block | None, block: Block) -> bool:
    """``before`` is a line set in far from where ``block`` starts (a display formula): the text
    after it is a paragraph of its own, however its sentence runs."""
    if before is None or len(before.lines) != 1:
        return False
    height = before.lines[0].bbox[3] - before.lines[0].bbox[1]
    return before.bbox[0] > block.bbox[0] + 4 * height


def _runs_on(before: str, after: str) -> bool:
    """A paragraph cut by a column or a figure goes on: no sentence end, a lowercase start."""
    return not before.rstrip().endswith((".", ":", "!", "?")) and after[:1].islower()


def _render(block: Block) -> str:
    kind = block.type
    if kind == "text" and _ORNAMENT.fullmatch(block.text()):
        return ""  # a frame's corners (Texinfo's cartouche): the text keeps them
    if kind == "table":
        return _table(block)
    if kind == "code":
        return "```\n" + _code(block) + "\n```"
    if kind == "toc":
        return "\n".join(_toc_entry(row) for row in block.rows())
    if kind == "equation":
        return "$$\n" + block.text() + "\n$$"
    return paragraph_markdown(kind, block.level, block.text())


def paragraph_markdown(kind: str, level: int, text: str) -> str:
    """The Markdown of a block of prose from what a page record keeps of it: its type, heading
    level and plain text (a heading, a list item, a caption, a footnote or a paragraph).

    >>> paragraph_markdown("title", 2, "4.2 Tables"), paragraph_markdown("text", 0, "12")
    ('### 4.2 Tables', '12')
    """
    flow = " ".join(dehyphenate(text).split())
    if kind == "title":
        return "#" * (level + 1 if level else 2) + " " + flow
    if kind == "list_item":
        return _list_item(flow)
    if kind in ("caption", "figure_caption", "table_caption"):
        return f"*{_escape(flow)}*"
    if kind == "footnote":
        return "> " + _escape(flow)
    return _escape(flow)


def dehyphenate(text: str) -> str:
    """Words hyphenated across line ends rejoined onto the first line (OCR text keeps the
    hyphen a text layer marks as a break; a text layer's own breaks are rejoined on reading).

    >>> dehyphenate("a well-known exam-\\nple of it")
    'a well-known example\\nof it'
    """
    lines = text.split("\n")
    for i in range(len(lines) - 1):
        nxt = lines[i + 1].lstrip()
        if _SOFT_HYPHEN_END.search(lines[i]) and nxt[:1].islower():
            word, _, rest = nxt.partition(" ")
            lines[i] = lines[i][:-1] + word
            lines[i + 1] = rest
    return "\n".join(line for line in lines if line.strip())


def _list_item(text: str) -> str:
    bullet = _BULLET.match(text)
    if bullet:
        return "- " + _escape(text[bullet.end() :])
    number = _ENUMERATOR.match(text)
    if number and number.group(1).isdigit():
        return f"{number.group(1)}. " + _escape(text[number.end() :])
    return "- " + _escape(text)


def _toc_entry(cells: list[str]) -> str:
    """``- title … page`` from a contents line (leaders, or a page number set apart)."""
    text = " ".join(cells)
    leader = _LEADER_TAIL.search(text)
    if leader:
        return f"- {_escape(text[: leader.start()].rstrip(' .'))} … {leader.group(1)}"
    if len(cells) >= 2 and PAGE_REF.match(cells[-1]):
        return f"- {_escape(' '.join(cells[:-1]).rstrip(' .'))} … {cells[-1]}"
    title, _, page = text.strip().rpartition(" ")
    if title and PAGE_REF.match(page):  # a page number close after its title
        return f"- {_escape(title.rstrip(' .'))} … {page}"
    return f"- {_escape(text.strip())}"


def _code(block: Block) -> str:
    """Code lines with their indentation rebuilt from their left edges (after the line number,
    in a numbered listing)."""
    widths = [
        (ln.bbox[2] - ln.bbox[0]) / len(ln.text) for ln in block.lines if len(ln.text.strip()) > 3
    ]
    char = max(sorted(widths)[len(widths) // 2] if widths else 1.0, 1e-6)
    rows = [_numbered_code(line, char) for line in block.lines]
    if sum(bool(number) for number, _, _ in rows) < len(rows) / 2:  # not a numbered listing
        rows = [("", line.text, line.bbox[0]) for line in block.lines]
    left = min((x for _, _, x in rows if x is not None), default=0.0)
    out = []
    for number, code, start in rows:
        indent = " " * max(0, round((start - left) / char)) if start is not None else ""
        out.append(" ".join(t for t in (number, indent + code) if t))
    return "\n".join(out).replace("```", "`\u200b``")


def _numbered_code(line: TextLine, char: float) -> tuple[str, str, float | None]:
    """(line number, code, where the code starts) of a listing's line; the number is "" where
    the line opens with none, and the start None where it holds no code."""
    if line.parts and line.parts[0].text.strip().isdigit():
        number = line.parts[0].text.strip()
        return number, " ".join(p.text for p in line.parts[1:]), line.parts[1].bbox[0]
    number, _, code = line.text.strip().partition(" ")
    if not number.isdigit():
        return "", line.text, line.bbox[0]
    if not code.strip():
        return number, "", None
    return number, code.lstrip(), line.bbox[0] + (len(line.text) - len(code.lstrip())) * char


def _table(block: Block) -> str:
    """A GitHub table: cells placed in the columns that the fullest rows span (centred and
    right-aligned columns too), else by where they start (or as the table's header placed
    them)."""
    if block.table is not None and block.table.spans:
        return block.table.html  # a pipe table has no spans
    if block.cells is not None:
        return _github([[_cell(c) for c in row] for row in block.cells])
    cells = [[c for ln in row for c in (ln.parts or (ln,))] for row in rows(block.lines)]
    spans = _column_spans(cells) or [(x, x) for x in _column_starts(cells)]
    table: list[list[str]] = []
    for row in cells:
        out = [""] * len(spans)
        for cell in row:
            col = max(range(len(spans)), key=lambda i: _fit(cell.bbox, spans[i]))
            out[col] = f"{out[col]} {_cell(cell.text)}".strip()
        table.append(out)
    return _github(table)


def _column_spans(cells: list[list[TextLine]]) -> list[tuple[float, float]]:
    """Each column's extent, from the rows with the most cells; [] when those rows disagree
    (a column of one row overlaps the next column of another)."""
    most = max(len(row) for row in cells)
    full = [sorted(row, key=lambda c: c.bbox[0]) for row in cells if len(row) == most]
    if most < 2 or len(full) < 2:
        return []
    spans = [
        (min(r[k].bbox[0] for r in full), max(r[k].bbox[2] for r in full)) for k in range(most)
    ]
    return spans if all(a[1] < b[0] for a, b in pairwise(spans)) else []


def _column_starts(cells: list[list[TextLine]]) -> list[float]:
    starts: list[float] = []
    for row in cells:
        for cell in row:
            height = cell.bbox[3] - cell.bbox[1]
            if all(abs(cell.bbox[0] - s) > height for s in starts):
                starts.append(cell.bbox[0])
    return sorted(starts)


def _fit(box: tuple[float, float, float, float], span: tuple[float, float]) -> float:
    """How well a cell fits a column: their overlap, or minus the distance between them."""
    overlap = min(box[2], span[1]) - max(box[0], span[0])
    return overlap if overlap > 0 else -min(abs(box[0] - span[0]), abs(box[0] - span[1]))


def _cell(text: str) -> str:
    return _escape(text.strip()).replace("|", "\\|")


def _github(table: list[list[str]]) -> str:
    header, *body = table
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _escape(text: str) -> str:
    """Escape what would start Markdown syntax at the beginning of a paragraph."""
    if re.match(r"^(?:#{1,6}(?:\s|$)|[-+*](?:\s|$)|\d+[.)](?:\s|$)|>|```)", text):
        return "\\" + text
    return text

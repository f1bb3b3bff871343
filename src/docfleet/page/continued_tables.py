"""Tables continued across pages: a page that ends with a table and a next page that opens
with one of as many columns make one table, on the first page, in a document's Markdown.

Pure functions on the pages' Markdown (pipe tables, or HTML tables where cells span). The
second page's first row, when it repeats the first's header, is dropped; otherwise it is a
row of the table (nothing is lost). The merged table is preceded by a comment naming the pages
it spans (``<!-- table: pages 3-4 -->``).

>>> pages = {3: "Text.\\n\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |",
...          4: "| a | b |\\n| --- | --- |\\n| 3 | 4 |\\n\\nMore text."}
>>> merged = merge_continued_tables(pages)
>>> print(merged[3])
Text.
<BLANKLINE>
<!-- table: pages 3-4 -->
<BLANKLINE>
| a | b |
| --- | --- |
| 1 | 2 |
| 3 | 4 |
>>> merged[4]
'More text.'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_SPAN_COMMENT = re.compile(r"^<!-- table: pages (\d+)-(\d+) -->$")
_HTML_ROW = re.compile(r"<tr>.*?</tr>", re.S)
_HTML_CELL = re.compile(r"<t[dh]([^>]*)>", re.S)
_COLSPAN = re.compile(r'colspan="(\d+)"')


Compose = Callable[[str, Mapping[int, str]], Mapping[int, str]]


def then_merge_tables(compose: Compose) -> Compose:
    """``compose`` (a document's name and pages' Markdown to what its file holds), then the
    tables continued across its pages merged (:func:`merge_continued_tables`)."""
    return lambda name, pages: merge_continued_tables(compose(name, pages))


def merge_continued_tables(pages: Mapping[int, str]) -> dict[int, str]:
    """The pages' Markdown (by page number) with each table that a next page continues
    merged into one (see the module docstring); pages in between without text stop nothing,
    a page whose Markdown opens with anything but a table ends the table."""
    out = {n: pages[n] for n in sorted(pages)}
    numbers = sorted(out)
    open_at: int | None = None  # the page whose last paragraph is a table still open
    for n in numbers:
        paragraphs = _paragraphs(out[n])
        if open_at is not None and paragraphs and open_at != n:
            head = paragraphs[0]
            before = _paragraphs(out[open_at])
            merged = _merge(before[-1], head)
            if merged is not None:
                first = _first_page(before[-2] if len(before) > 1 else "")
                kept = before[:-2] if first is not None else before[:-1]
                first = open_at if first is None else first
                out[open_at] = "\n\n".join([*kept, f"<!-- table: pages {first}-{n} -->", merged])
                out[n] = "\n\n".join(paragraphs[1:])
                if len(paragraphs) == 1:
                    continue  # the table fills the page: it may go on over the next
                paragraphs = paragraphs[1:]
        open_at = n if paragraphs and _columns(paragraphs[-1]) else None
    return out


def _first_page(paragraph: str) -> int | None:
    """The first page of a table merged before (from its comment), else None."""
    found = _SPAN_COMMENT.match(paragraph)
    return int(found.group(1)) if found else None


def _paragraphs(markdown: str) -> list[str]:
    return [p for p in markdown.split("\n\n") if p.strip()]


def _merge(upper: str, lower: str) -> str | None:
    """One table from ``upper`` and its continuation ``lower``; None when they are not two
    tables of one kind and as many columns."""
    columns = _columns(upper)
    if not columns or columns != _columns(lower):
        return None
    if upper.startswith("|") and lower.startswith("|"):
        top, below = upper.split("\n"), lower.split("\n")
        rows = below[2:] if _same_row(below[0], top[0]) else [below[0], *below[2:]]
        return "\n".join([*top, *rows])
    if upper.startswith("<table>") and lower.startswith("<table>"):
        rows = _HTML_ROW.findall(lower)
        if rows and _texts(rows[0]) == _texts(_HTML_ROW.findall(upper)[0]):
            rows = rows[1:]  # the header, repeated
        body = "".join(r.replace("<th", "<td").replace("</th>", "</td>") for r in rows)
        if "</tbody>" in upper:
            return upper.replace("</tbody></table>", body + "</tbody></table>")
        return upper.replace("</table>", body + "</table>")
    return None


def _columns(paragraph: str) -> int:
    """The columns of a Markdown pipe table or an HTML table's first row; 0 for other text."""
    if paragraph.startswith("|"):
        lines = paragraph.split("\n")
        if len(lines) >= 2 and lines[1].startswith("| ---"):
            return lines[1].count("---")
        return 0
    if paragraph.startswith("<table>") and paragraph.endswith("</table>"):
        row = _HTML_ROW.search(paragraph)
        if row is None:
            return 0
        spans = [_COLSPAN.search(attrs) for attrs in _HTML_CELL.findall(row.group())]
        return sum(int(s.group(1)) if s else 1 for s in spans)
    return 0


def _texts(row: str) -> list[str]:
    return [" ".join(t.split()).lower() for t in re.split(r"<[^>]+>", row) if t.strip()]


def _same_row(a: str, b: str) -> bool:
    def cells(row: str) -> list[str]:
        return [" ".join(c.split()).lower() for c in row.strip().strip("|").split("|")]

    return cells(a) == cells(b)


class Continuations:
    """Marks, in page records taken in page order, a table that goes on from the page before:
    its block gets ``continues`` (the page the table began on) when the page before ended with
    a table of as many columns and this page opens with one. Kept per open document: the
    columns of its last page's closing table."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[int, int, int]] = {}  # document: (page, columns, first page)

    def mark(self, record: dict[str, Any]) -> None:
        """Mark the record's opening table where it continues one, in place, and remember its
        closing table (a record written before, a resumed run's, is taken as it is)."""
        document, page = record.get("document", ""), record.get("page") or 0
        body = [b for b in record.get("blocks") or [] if b.get("type") not in _APART]
        before = self._open.pop(document, None)
        first = page
        opens = bool(body) and body[0]["type"] == "table"
        follows = before is not None and before[0] == page - 1
        if opens and follows and _block_columns(body[0]) == before[1]:  # type: ignore[index]
            body[0]["continues"] = first = before[2]  # type: ignore[index]
        closes = record.get("status") == "ok" and bool(body) and body[-1]["type"] == "table"
        if closes and page < (record.get("pages") or 0):
            start = first if len(body) == 1 else page
            self._open[document] = (page, _block_columns(body[-1]), start)


_APART = ("header", "footer")  # not in the Markdown body


def _block_columns(block: Mapping[str, Any]) -> int:
    """A table block's columns: the table model's, else its widest row of tab-separated
    cells."""
    if block.get("cols"):
        return int(block["cols"])
    return max((row.count("\t") + 1 for row in str(block.get("text", "")).split("\n")), default=0)

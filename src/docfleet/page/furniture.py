"""Page furniture across a document: a line at the top or bottom of many of its pages, at the
same place, is a running header or footer even where one page could not tell; a lone number
at the foot of its pages that counts up with them is a page number.

Pages come one at a time as records (``pages.jsonl`` lines). Each record types its own
furniture ``header`` or ``footer`` (:mod:`docfleet.page.margins`) and marks its other edge
blocks ``"edge": "top"`` or ``"bottom"``: short lines at the page's top or bottom that are
furniture if the document repeats them. Its Markdown holds each such block as a paragraph of
its own (:func:`~docfleet.page.markdown.paragraph_markdown` of it), which can be left out
exactly. :class:`Furniture` keeps, per open document, only those edge blocks of the pages seen:

- :meth:`Furniture.mark`, before a record is written: an edge block repeating one of an
  earlier page is typed ``header`` (``footer``) and its paragraph leaves the record's Markdown.
  The first page of a repeat is written before the repeat is seen, so it keeps its edge block:
  ``pages.jsonl`` is never held back for the rest of a document (a run stopped midway loses
  nothing, and ``--resume`` reads it as written).
- :meth:`Furniture.compose`, when the document's Markdown file is written (all its pages are
  in): every edge block that repeats on another page leaves the Markdown, the first one too;
  with ``keep=True`` the furniture is put back at the top and foot of its page instead.

>>> def page(n, foot):
...     return {"document": "d.pdf", "page": n, "height": 1000, "status": "ok",
...             "markdown": f"Body {n}.\\n\\n{foot}",
...             "blocks": [{"type": "text", "bbox": [100, 100, 900, 800], "text": f"Body {n}."},
...                        {"type": "text", "bbox": [480, 900, 520, 915], "text": foot,
...                         "edge": "bottom"}]}
>>> furniture = Furniture()
>>> first, second = page(1, "1"), page(2, "2")
>>> furniture.mark(first); furniture.mark(second)
>>> first["markdown"], second["markdown"], second["blocks"][1]["type"]
('Body 1.\\n\\n1', 'Body 2.', 'footer')
>>> furniture.compose("d.pdf", {1: first["markdown"], 2: second["markdown"]})
{1: 'Body 1.', 2: 'Body 2.'}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from docfleet.page.margins import page_number_value
from docfleet.page.markdown import paragraph_markdown

#: How far (a share of the page's height) the same line may move between pages.
SAME_PLACE = 0.015
SIDES = {"header": "top", "footer": "bottom"}
KINDS = {"top": "header", "bottom": "footer"}
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_NUMBER = rf"(?:page\s+)?(?:\d{{1,5}}|{_ROMAN})(?:\s*(?:/|of)\s*\d{{1,5}})?"
_LEADING = re.compile(rf"^{_NUMBER}\s*[|\-\u2013\u2014]?\s+")
_TRAILING = re.compile(rf"\s+[|\-\u2013\u2014]?\s*{_NUMBER}$")


def furniture_key(text: str) -> str:
    """What a running line keeps from page to page: its words without the page number at
    either end, digits as ``#``, in lowercase; ``#`` for a page number alone.

    >>> furniture_key("Debian Reference 62 / 233"), furniture_key("148 Debian  Reference")
    ('debian reference', 'debian reference')
    >>> furniture_key("Page 3 of 9"), furniture_key("Release 4.6.2"), furniture_key("- 12 -")
    ('#', 'release #.#.#', '#')
    """
    text = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    if page_number_value(text) is not None:
        return "#"
    text = _TRAILING.sub("", _LEADING.sub("", text))
    return re.sub(r"\d+", "#", text).strip() or "#"


@dataclass(frozen=True)
class Edge:
    """A block at a page's top or bottom: furniture already, or a candidate for it."""

    block: int  # its index in the record's blocks
    side: str  # "top" or "bottom"
    key: str  # furniture_key of its text
    number: int | None  # its value, when it is a page number alone
    y: float  # its middle, as a share of the page's height
    furniture: bool  # typed header or footer (by its page, or by the document)
    markdown: str  # its paragraph in the page's Markdown


def page_edges(record: Mapping[str, Any]) -> list[Edge]:
    """The furniture and edge candidates of a page record (none for a failed page)."""
    height = record.get("height") or 0
    if record.get("status", "ok") != "ok" or not height:
        return []
    edges = []
    for i, block in enumerate(record.get("blocks") or []):
        kind, text = block.get("type", ""), block.get("text") or ""
        side = block.get("edge") or SIDES.get(kind)
        if side not in KINDS or not text.strip():
            continue
        furniture = kind in SIDES
        markdown = paragraph_markdown("text" if furniture else kind, block.get("level", 0), text)
        y = (block["bbox"][1] + block["bbox"][3]) / 2 / height
        edges.append(Edge(i, side, furniture_key(text), page_number_value(text), y, furniture,
                          markdown))  # fmt: skip
    return edges


@dataclass
class _Document:
    """The edges of a document's pages seen so far, indexed by what makes them repeat."""

    pages: dict[int, list[Edge]] = field(default_factory=dict)
    places: dict[tuple[str, str], list[tuple[int, float]]] = field(default_factory=dict)
    counts: dict[tuple[str, int], set[int]] = field(default_factory=dict)

    def add(self, page: int, edges: list[Edge]) -> None:
        self.pages[page] = edges
        for edge in edges:
            self.places.setdefault((edge.side, edge.key), []).append((page, edge.y))
            if edge.number is not None:  # the printed number less the page's: one per run
                self.counts.setdefault((edge.side, edge.number - page), set()).add(page)

    def repeats(self, edge: Edge, page: int) -> bool:
        """Another page has the same line at the same place, or a page number of the same
        run (its number less its page the same: printed pages count up with the file's)."""
        same = self.places.get((edge.side, edge.key), ())
        if any(p != page and abs(y - edge.y) <= SAME_PLACE for p, y in same):
            return True
        if edge.number is None:
            return False
        return bool(self.counts.get((edge.side, edge.number - page), set()) - {page})


class Furniture:
    """Furniture found across each document's pages, for a run that writes records one by one
    and Markdown per document (see the module). Holds a few edge blocks per page of each open
    document; ``keep`` puts the furniture back into the Markdown (top and foot of its page)."""

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self._documents: dict[str, _Document] = {}

    def observe(self, record: Mapping[str, Any]) -> None:
        """Take a record written before (a resumed run's) as it is."""
        self._document(record).add(record.get("page") or 0, page_edges(record))

    def mark(self, record: dict[str, Any]) -> None:
        """Type the record's edge blocks that repeat an earlier page's ``header`` or
        ``footer``, and leave their paragraphs out of its Markdown, in place."""
        document, page = self._document(record), record.get("page") or 0
        edges = page_edges(record)
        for n, edge in enumerate(edges):
            if edge.furniture or not document.repeats(edge, page):
                continue
            block = record["blocks"][edge.block]
            block["type"] = KINDS[edge.side]
            block.pop("edge", None)
            record["markdown"] = _without(record.get("markdown", ""), edge.markdown, edge.side)
            edges[n] = replace(edge, furniture=True)
        document.add(page, edges)

    def compose(self, name: str, pages: Mapping[int, str]) -> dict[int, str]:
        """The Markdown of each page of a complete document: every edge block that repeats on
        another page left out (or, with ``keep``, all furniture at its page's top and foot).
        The document is then forgotten."""
        document = self._documents.pop(name, None)
        out = dict(pages)
        if document is None:
            return out
        for page, edges in document.pages.items():
            if page not in out:
                continue
            markdown, found = out[page], []
            for edge in edges:
                if edge.furniture or document.repeats(edge, page):
                    if not edge.furniture:
                        markdown = _without(markdown, edge.markdown, edge.side)
                    found.append(edge)
            out[page] = _with(markdown, found) if self.keep else markdown
        return out

    def _document(self, record: Mapping[str, Any]) -> _Document:
        return self._documents.setdefault(str(record.get("document")), _Document())


def _without(markdown: str, paragraph: str, side: str) -> str:
    """The Markdown less one paragraph equal to ``paragraph``, the first from the top (or the
    last, at the foot); as it was when it holds none."""
    parts = markdown.split("\n\n")
    order = range(len(parts)) if side == "top" else range(len(parts) - 1, -1, -1)
    for i in order:
        if parts[i] == paragraph:
            return "\n\n".join(parts[:i] + parts[i + 1 :])
    return markdown


def _with(markdown: str, furniture: Iterable[Edge]) -> str:
    """The Markdown with the furniture put back: headers above it, footers below."""
    edges = list(furniture)
    top = [e.markdown for e in edges if e.side == "top"]
    bottom = [e.markdown for e in edges if e.side == "bottom"]
    return "\n\n".join(part for part in (*top, markdown, *bottom) if part)

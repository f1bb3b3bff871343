r"""Page-structure scores: tables as HTML with TEDS, and body text against OmniDocBench's elements.

Tables: the reference HTML of a PubTabNet record, a system's table turned into HTML (pipe-table
rows and loose lines), and TEDS / TEDS-S (IBM's tree edit distance similarity, from
``table-recognition-metric``) with ``<th>`` read as ``<td>``.
Body text: what of a page counts as body (OmniDocBench's elements, docfleet's blocks), whether a
reference text is found in it, the order it is found in.

>>> ref = pubtabnet_html({"structure": {"tokens": ["<tr>", "<td>", "</td>", "</tr>"]},
...                       "cells": [{"tokens": ["a", "<", "b"]}]})
>>> ref
'<html><body><table><tr><td>a&lt;b</td></tr></table></body></html>'
>>> teds(ref, ref), teds(blocks_html([{"type": "text", "text": "a<b\nc"}]), ref)
(1.0, 0.5)
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from docfleet.page.markdown import SKIPPED_IN_MARKDOWN

FUZZY = 85  # rapidfuzz partial ratio at which a reference text counts as found
SHORT = 4  # texts under this many characters (page numbers) must equal a whole line instead
FURNITURE = ("header", "footer", "page_number")  # what a converter should leave out of the body
NOT_BODY = (*FURNITURE, "abandon")
NOT_TEXT = ("figure", "table", "equation_isolated")  # compared apart (tables) or not at all
Box = tuple[float, float, float, float]


def pubtabnet_html(annotation: dict[str, Any]) -> str:
    """The reference HTML of a PubTabNet record's ``html``: cell tokens filled into the structure
    (single-character tokens escaped, tags such as ``<b>`` kept), as PubTabNet's README does."""
    code = list(annotation["structure"]["tokens"])
    slots = [i for i, tag in enumerate(code) if tag in ("<td>", ">")]
    for i, cell in zip(slots[::-1], annotation["cells"][::-1], strict=False):
        if cell["tokens"]:
            text = "".join(html.escape(t) if len(t) == 1 else t for t in cell["tokens"])
            code.insert(i + 1, text)
    return f"<html><body><table>{''.join(code)}</table></body></html>"


def _normalise_html(text: str) -> str:
    text = re.sub(r"<th(?=[\s>])", "<td", text).replace("</th>", "</td>")
    return text if "<body" in text else f"<html><body>{text}</body></html>"


def teds(pred: str, ref: str, structure_only: bool = False) -> float:
    """TEDS (or TEDS-S) of ``pred`` against ``ref``; header cells (``<th>``) count as cells.

    1 - edit distance / the larger tree's size, as published; an edit distance above that size
    (a prediction of many more rows than the table has) is clamped to a score of 0."""
    from table_recognition_metric import TEDS

    score = TEDS(structure_only=structure_only)(_normalise_html(pred), _normalise_html(ref))
    return max(0.0, score)


def _row(cells: Iterable[str]) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in cells) + "</tr>"


def blocks_html(blocks: Sequence[dict[str, Any]]) -> str:
    """docfleet's blocks as one table, as its Markdown shows them: a table block's rows (cells
    split at tabs, padded to its widest row as the pipe table is) and every other line as a row
    of one cell. The first row goes in ``<thead>`` when the blocks open with a table."""
    rows: list[str] = []
    head = ""
    for block in blocks:
        lines = [line for line in (block.get("text") or "").split("\n") if line.strip()]
        if block.get("type") == "table":
            cells = [line.split("\t") for line in lines]
            width = max((len(c) for c in cells), default=0)
            padded = [_row(c + [""] * (width - len(c))) for c in cells]
            if not rows and not head and padded:
                head, padded = padded[0], padded[1:]
            rows += padded
        else:
            rows += [_row([line]) for line in lines]
    thead = f"<thead>{head}</thead>" if head else ""
    return f"<html><body><table>{thead}<tbody>{''.join(rows)}</tbody></table></body></html>"


def centre_in(bbox: Sequence[float], box: Box | None, scale: float = 1.0) -> bool:
    """Whether ``bbox``'s centre, times ``scale``, lies in ``box`` (always, without a box)."""
    if box is None:
        return True
    x, y = (bbox[0] + bbox[2]) / 2 * scale, (bbox[1] + bbox[3]) / 2 * scale
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def poly_box(poly: Sequence[float]) -> Box:
    """The bounding box of an OmniDocBench ``poly`` (x, y pairs)."""
    xs, ys = poly[0::2], poly[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def shown_blocks(blocks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks docfleet's Markdown shows: not running headers or footers, and not empty."""
    return [b for b in blocks if b.get("type") not in SKIPPED_IN_MARKDOWN and b.get("text")]


def norm(text: str) -> str:
    """NFKC, every whitespace removed: the form texts are compared in."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def reading_order(elements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Elements by ``order`` (those without one last, as listed)."""
    return sorted(elements, key=lambda e: (e.get("order") is None, e.get("order") or 0))


def body_elements(elements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference's body text blocks in reading order: every element with text that is not
    furniture (header, footer, page number, abandon) nor a figure, table or isolated equation."""
    kept = [e for e in elements if e["category_type"] not in (*NOT_BODY, *NOT_TEXT)]
    return [e for e in reading_order(kept) if norm(e.get("text") or "")]


class Body:
    """A system's body text, normalised, with its lines, to find reference texts in."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = [n for n in (norm(line) for line in lines) if n]
        self.text = "".join(self.lines)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def find(self, text: str) -> int | None:
        """Where ``text`` is found (its offset in the body), None when it is not: a partial
        ratio >= ``FUZZY``; a text under ``SHORT`` characters must be a whole line."""
        from rapidfuzz import fuzz

        needle = norm(text)
        if not needle or not self.text:
            return None
        if len(needle) < SHORT:
            return next((self.starts[i] for i, ln in enumerate(self.lines) if ln == needle), None)
        if len(needle) > len(self.text):
            return 0 if fuzz.ratio(needle, self.text) >= FUZZY else None
        found = fuzz.partial_ratio_alignment(needle, self.text, score_cutoff=FUZZY)
        return None if found is None else found.dest_start


def text_edit_distance(pred: str, ref: str) -> float:
    """Levenshtein distance over the longer length, on the normalised texts (0 when both are
    empty)."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_distance(norm(pred), norm(ref))


def order_edit_distance(positions: Sequence[int | None]) -> float | None:
    """Normalised edit distance between the reference order of the found texts and the order they
    are found in (``positions``: each reference text's offset in the body, None if not found);
    None when fewer than two were found."""
    from rapidfuzz.distance import Levenshtein

    found = [(pos, i) for i, pos in enumerate(positions) if pos is not None]
    if len(found) < 2:
        return None
    return Levenshtein.normalized_distance([i for _, i in found], [i for _, i in sorted(found)])

"""A PDF page's text layer as lines with pixel boxes, and whether it is real text or junk.

PDFium gives characters in content order with their boxes and inserts line breaks where it
sees them; lines are cut further where characters jump far right (table cells, columns drawn
row by row), jump back left, or leave the line's band. Callers hold ``PDFIUM_LOCK``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from docfleet.pages import BBox, TextLine

MIN_TEXT_CHARS = 16  # fewer non-space characters than this: a scan with a stray text object
MAX_BAD_SHARE = 0.10  # replacement, private-use, control and (cid:N) characters
MIN_GOOD_SHARE = 0.60  # letters, marks, digits, punctuation, math and currency signs
GAP_BREAK = 1.0  # a horizontal gap wider than this many line heights starts a new line
BACK_BREAK = 0.5  # a step back left of more than this many line heights starts a new line
_BAD_CATEGORIES = ("Cc", "Co", "Cs", "Cn")
_CID_JUNK = re.compile(r"\(cid:\d+\)")


@dataclass
class _Line:
    left: float
    bottom: float
    right: float
    top: float
    size: float | None = None  # font size of the line's first character, in pixels
    chars: list[str] = field(default_factory=list)

    def breaks_before(self, left: float, bottom: float, right: float, top: float) -> bool:
        height = max(self.top - self.bottom, top - bottom, 1e-3)
        middle = (bottom + top) / 2
        if not self.bottom - 0.2 * height <= middle <= self.top + 0.2 * height:
            return True  # outside the line's band
        gap = left - self.right
        return gap > GAP_BREAK * height or gap < -BACK_BREAK * height

    def add(self, char: str, left: float, bottom: float, right: float, top: float) -> None:
        self.chars.append(char)
        if left < self.left:
            self.left = left
        if bottom < self.bottom:
            self.bottom = bottom
        if right > self.right:
            self.right = right
        if top > self.top:
            self.top = top


def _char(code: int) -> str:
    if code == 0xFFFE:
        return "-"  # PDFium's mark for a hyphen that breaks a word at the end of a line
    if code == 0 or 0xD800 <= code <= 0xDFFF or code == 0xFFFF or code > 0x10FFFF:
        return "\ufffd"
    return chr(code)


def _to_pixels(page: Any, scale: float) -> Any:
    """A function mapping a PDF-space box (bottom-left origin) to a pixel box as rendered."""
    left, bottom, right, top = page.get_bbox()  # media box clipped by crop box, unrotated
    rotation = page.get_rotation()

    def point(x: float, y: float) -> tuple[float, float]:
        if rotation == 90:
            return (y - bottom) * scale, (x - left) * scale
        if rotation == 180:
            return (right - x) * scale, (y - bottom) * scale
        if rotation == 270:
            return (top - y) * scale, (right - x) * scale
        return (x - left) * scale, (top - y) * scale

    def box(x0: float, y0: float, x1: float, y1: float) -> BBox:
        ax, ay = point(x0, y0)
        bx, by = point(x1, y1)
        return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))

    return box


def _page_chars(textpage: Any) -> list[str]:
    """Every character of the text page, one string each (one PDFium call when possible)."""
    import pypdfium2.raw as pdfium_c

    count = pdfium_c.FPDFText_CountChars(textpage.raw)
    if count <= 0:
        return []
    text = textpage.get_text_range(0, count, errors="replace")
    if len(text) == count:
        return list(text.replace("\ufffe", "-"))  # as _char() reads each code
    get_unicode = pdfium_c.FPDFText_GetUnicode  # surrogate pairs or skipped characters
    return [_char(get_unicode(textpage.raw, i)) for i in range(count)]


def page_text_lines(page: Any, scale: float) -> list[TextLine]:
    """The lines of an open ``PdfPage``'s text layer, boxes in pixels at ``scale`` px/pt."""
    import pypdfium2.raw as pdfium_c

    to_pixels = _to_pixels(page, scale)
    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        get_box, map_error = pdfium_c.FPDFText_GetLooseCharBox, pdfium_c.FPDFText_HasUnicodeMapError
        rect = pdfium_c.FS_RECTF()
        lines: list[_Line] = []
        line: _Line | None = None
        space = False
        for index, char in enumerate(_page_chars(textpage)):
            if char in "\r\n":
                line, space = None, False
                continue
            if char.isspace():
                space = line is not None
                continue
            if not get_box(raw, index, rect):
                continue
            box = rect.left, rect.bottom, rect.right, rect.top
            if map_error(raw, index) == 1:
                char = "\ufffd"  # no Unicode mapping: the code PDFium falls back to is noise
            if line is not None and line.breaks_before(*box):
                line, space = None, False
            if line is None:
                size = pdfium_c.FPDFText_GetFontSize(raw, index)
                line = _Line(*box, size=size * scale if size > 0 else None)
                lines.append(line)
            elif space:
                line.chars.append(" ")
            space = False
            line.add(char, *box)
    finally:
        textpage.close()
    return [
        TextLine(
            text="".join(item.chars),
            bbox=to_pixels(item.left, item.bottom, item.right, item.top),
            font_size=item.size,
        )
        for item in lines
    ]


def text_layer_quality(lines: Sequence[TextLine]) -> tuple[bool, str]:
    """Whether a text layer is real text, usable instead of OCR; if not, the reason why.

    >>> from docfleet.pages import TextLine
    >>> text_layer_quality([TextLine("Quarterly revenue grew 12% to $4.1M.", (0, 0, 1, 1))])
    (True, '')
    >>> text_layer_quality([TextLine("(cid:12)(cid:7)(cid:9)(cid:3)", (0, 0, 1, 1))])[0]
    False
    """
    text = " ".join(line.text for line in lines)
    chars = [c for c in text if not c.isspace()]
    if len(chars) < MIN_TEXT_CHARS:
        return False, (
            f"too little text in the text layer ({len(chars)} characters; "
            f"at least {MIN_TEXT_CHARS} needed)"
        )
    junk = sum(len(m) for m in _CID_JUNK.findall(text))
    categories = [unicodedata.category(c) for c in _CID_JUNK.sub("", text) if not c.isspace()]
    bad = junk + text.count("\ufffd") + sum(c in _BAD_CATEGORIES for c in categories)
    if bad / len(chars) > MAX_BAD_SHARE:
        return False, (
            f"the text layer is garbage: {bad / len(chars):.0%} of its characters are "
            "unmapped (U+FFFD), private-use, control or (cid:N) codes"
        )
    good = sum(c[0] in "LMNP" or c in ("Sm", "Sc") for c in categories)
    if good / len(chars) < MIN_GOOD_SHARE:
        return False, (
            f"the text layer is garbage: only {good / len(chars):.0%} of its characters are "
            "letters, digits or punctuation"
        )
    return True, ""

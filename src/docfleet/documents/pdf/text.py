"""A PDF page's text layer as lines with pixel boxes, every word as the layer holds it.

PDFium gives characters in content order (the order the producer wrote them, which for nearly
every producer is the order a person reads a column in) with their boxes, the spaces it
inferred, its own line breaks, and a mark on hyphens that break a word at a line's end. A line
here is a run of characters in content order on one baseline: it ends where PDFium breaks it,
where a character leaves the line's band, or where the text steps back left. Within a line,
gaps wider than ``PART_GAP`` line heights (table cells, leaders to a page number, columns
written row by row) separate its ``parts``; the layout analysis decides whether they are read
as one line or split. Callers hold ``PDFIUM_LOCK``.

Words stay whole: the characters of a ligature (PDFium gives each the ligature's box) are never
split, a word cut by a line-end hyphen is rejoined on the line where it starts (as pdftotext
and PyMuPDF do), a change of font size (a footnote mark, a superscript) ends a word, and
ligature code points are expanded; text is NFC-normalised. Characters come whole from
:mod:`.chars`: a surrogate pair is one character, and a control character is a glyph with no
text, whose box counts but whose character is written only on a page so full of them that its
layer is garbage (as U+FFFD). Whether the layer is usable text or the page needs OCR is judged
in :mod:`.quality`; its public names are importable from here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from docfleet.documents.pdf.chars import HYPHEN, NO_TEXT, page_chars
from docfleet.documents.pdf.fonts import font_style
from docfleet.documents.pdf.quality import MAX_BAD_SHARE
from docfleet.page.geometry import union_all
from docfleet.page.types import BBox, TextLine

PART_GAP = 1.5  # a gap wider than this many line heights separates the parts of a line
WORD_GAP = 0.12  # a gap wider than this many font sizes ends a word where PDFium put no space
BACK_STEP = 0.3  # a step back left of more than this many line heights starts a new line
SIZE_STEP = 1.2  # a word set this much smaller than the next character is a mark before it
BAND_OVERLAP = 0.5  # share of the smaller height two boxes must overlap to be on one line
_LIGATURES = {0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl"}
_LIGATURES |= {0xFB05: "st", 0xFB06: "st"}
#: Adobe's private-use small capitals and old-style figures (U+F761 "Asmall", U+F731
#: "oneoldstyle"): U+F700 plus the ASCII character they stand for.
_LIGATURES |= {0xF700 + c: chr(c) for c in range(0x21, 0x7F)}
#: Spacing accents that TeX and others draw over a letter, and the combining marks they mean.
_ACCENTS = {
    "\u00a8": "\u0308", "\u00b4": "\u0301", "\u02cb": "\u0300", "\u02c6": "\u0302",
    "\u02dc": "\u0303", "\u00af": "\u0304", "\u02d8": "\u0306",
    "\u02d9": "\u0307", "\u02da": "\u030a", "\u00b8": "\u0327", "\u02db": "\u0328",
    "\u02c7": "\u030c", "\u02dd": "\u030b",
}  # fmt: skip


#: A combining mark waiting for a glyph: the mark, the middle of its accent, its bottom, its top.
_Accent = tuple[str, float, float, float]


@dataclass
class _Part:
    left: float
    bottom: float
    right: float
    top: float
    chars: list[str] = field(default_factory=list)

    last: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # the last glyph's box

    xs: list[tuple[float, float]] = field(default_factory=list)  # each glyph's left and right

    def add(self, char: str, box: tuple[float, float, float, float]) -> None:
        self.chars.append(char)
        self.xs.append((box[0], box[2]))
        self._grow(box)

    def space(self) -> None:
        self.chars.append(" ")
        self.xs.append((self.right, self.right))

    def mark(self, mark: str, x: float) -> bool:
        """Put a combining mark on the glyph under ``x``; False when none is."""
        for i in range(len(self.xs) - 1, -1, -1):
            left, right = self.xs[i]
            char = self.chars[i]
            if left - 0.5 <= x <= right + 0.5 and not char.isspace() and char != NO_TEXT:
                self.chars[i] += mark
                return True
        return False

    def _grow(self, box: tuple[float, float, float, float]) -> None:
        self.last = box
        self.left = min(self.left, box[0])
        self.bottom = min(self.bottom, box[1])
        self.right = max(self.right, box[2])
        self.top = max(self.top, box[3])


@dataclass
class _Line:
    first: int  # index of the line's first character, for its font
    last: int
    parts: list[_Part] = field(default_factory=list)
    sizes: dict[float, int] = field(default_factory=dict)  # font size -> characters in it

    @property
    def size(self) -> float:
        """The size most of the line's characters are set in, in points (the larger on a tie):
        a formula's large operator or a footnote mark does not make a line larger."""
        return max(self.sizes.items(), key=lambda kv: (kv[1], kv[0]))[0] if self.sizes else 0.0

    def holds(self, box: tuple[float, float, float, float]) -> bool:
        part = self.parts[-1]
        overlap = min(part.top, box[3]) - max(part.bottom, box[1])
        return overlap > BAND_OVERLAP * min(part.top - part.bottom, box[3] - box[1], 1e9)


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


def _read_lines(textpage: Any) -> list[_Line]:
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    get_box, get_size = pdfium_c.FPDFText_GetLooseCharBox, pdfium_c.FPDFText_GetFontSize
    rect = pdfium_c.FS_RECTF()
    lines: list[_Line] = []
    line: _Line | None = None
    space = after_accent = False  # after_accent: the last glyph read was a spacing accent
    hyphen_into: _Part | None = None  # where the rest of a word cut by a line-end hyphen goes
    rejoined = False  # some of that rest is in
    accent: _Accent | None = None  # a mark waiting for the next letter
    floating: list[_Accent] = []  # marks placed once all lines are read
    prev = (0.0, 0.0, 0.0, 0.0)  # box of the previous glyph
    # PDFium's font size is 1 where the text matrix scales the font: gaps are measured against
    # glyph heights; word_size is the largest font size in the word so far
    size = word_size = 0.0
    chars = page_chars(textpage)
    word_gap = _word_gap(raw, chars)
    for index, char in enumerate(chars):
        if not char:
            continue  # the second half of a character outside the Basic Multilingual Plane
        if char in "\r\n":
            size = 0.0  # a new line may be in another font at a glyph height close to this one
            hyphen_into = None if rejoined else hyphen_into  # the cut word's rest ended its line
            continue  # PDFium also breaks lines where only the font changes: geometry decides
        if char == HYPHEN:
            hyphen_into, rejoined = (line.parts[-1] if line is not None else None), False
            continue
        if char.isspace():
            space, hyphen_into = line is not None and not after_accent, None
            continue
        if hyphen_into is not None:
            hyphen_into.chars.append(char)
            rejoined = True
            continue
        if not get_box(raw, index, rect):
            continue
        box = (rect.left, rect.bottom, rect.right, rect.top)
        if char in _ACCENTS:  # drawn over the letter before it, the one to come, or elsewhere
            accent = _hold_accent(_ACCENTS[char], box, line, prev, accent, floating)
            space, after_accent = False, True  # spaces PDFium put around it: the gap decides
            continue
        after_accent = False
        textless = char == NO_TEXT  # a glyph with no text: its box counts, its character not
        if accent is not None and not textless:
            char, space = _take_accent(accent, char, space, box, prev, floating)
            accent = None
        height = box[3] - box[1]
        if abs(height - (prev[3] - prev[1])) > 0.05 * height or not size:
            size = get_size(raw, index)  # asked when the glyph's height changes, or a line begins
        scale = size if size >= 2 else 0.8 * height  # the font size, or the glyph's height
        same_glyph, stacked, stepped_back = _placed(box, prev, height)
        if line is not None and not same_glyph and (stepped_back or not line.holds(box)):
            line = None if not stacked else line  # rotated text runs up or down the page
        if line is None:
            line = _Line(index, index, [_Part(*box)])
            lines.append(line)
            word_size = 0.0
        elif not same_glyph:
            part = line.parts[-1]
            gap = box[0] - part.right
            if gap > PART_GAP * max(part.top - part.bottom, height) and not _leaders(part):
                line.parts.append(_Part(*box))
                word_size = 0.0
            elif (
                space
                or gap > word_gap * max(scale, word_size)
                or (scale > SIZE_STEP * word_size and char.isalnum() and _mark(part.chars))
            ):
                space = textless  # a glyph with no text passes its space on to the next one
                if not textless:
                    part.space()  # the last test: a footnote mark before a word
                    word_size = 0.0
        line.parts[-1].add(char, box)
        line.last = index
        line.sizes[round(scale, 1)] = line.sizes.get(round(scale, 1), 0) + 1
        space, prev, word_size = space and textless, box, max(word_size, scale)
    _place_marks(lines, [*floating, *([accent] if accent else [])])
    return lines


def _placed(
    box: tuple[float, float, float, float], prev: tuple[float, float, float, float], height: float
) -> tuple[bool, bool, bool]:
    """Where a glyph sits against the one before it: on it (the same glyph drawn twice, for
    bold), stacked above or below it (rotated text), or stepped back to the left."""
    same_column = abs(box[0] - prev[0]) < 0.01 and abs(box[2] - prev[2]) < 0.01
    same_glyph = same_column and abs(box[1] - prev[1]) < 0.01 and abs(box[3] - prev[3]) < 0.01
    stacked = same_column and min(abs(box[1] - prev[3]), abs(box[3] - prev[1])) < 0.5
    return same_glyph, stacked, box[0] < prev[0] - BACK_STEP * height


def _word_gap(raw: Any, chars: list[str]) -> float:
    """The gap, in font sizes, that ends a word where PDFium put no space.

    A page that spells its spaces out (word processors, ReportLab) is trusted on where words
    end; one that positions its words (TeX) gets spaces inferred from the gaps too, which would
    split letter-spaced text such as "s h e" on the first kind.
    """
    return WORD_GAP if not _spelt_spaces(raw, chars) else float("inf")


def _hold_accent(
    mark: str,
    box: tuple[float, float, float, float],
    line: _Line | None,
    prev: tuple[float, float, float, float],
    accent: _Accent | None,
    floating: list[_Accent],
) -> _Accent | None:
    """The mark waiting for the next letter once a spacing accent is read: ``accent`` still
    when the accent is drawn over the glyph before it (which takes its mark), else this one
    (and ``accent``, passed over, waits in ``floating``)."""
    middle = (box[0] + box[2]) / 2
    if (
        line is not None
        and line.parts[-1].last[0] - 0.5 <= middle <= prev[2] + 0.5
        and line.parts[-1].mark(mark, middle)
    ):
        return accent
    if accent is not None:
        floating.append(accent)
    return (mark, middle, box[1], box[3])


def _take_accent(
    accent: _Accent,
    char: str,
    space: bool,
    box: tuple[float, float, float, float],
    prev: tuple[float, float, float, float],
    floating: list[_Accent],
) -> tuple[str, bool]:
    """The letter after a waiting mark, with the mark when it is drawn over the letter (and
    whether a space still goes before it: PDFium's stands only if the gap says so); a mark
    over no letter waits in ``floating``."""
    if box[0] - 0.5 <= accent[1] <= box[2] + 0.5:
        return char + accent[0], space and box[0] - prev[2] > WORD_GAP * (box[3] - box[1])
    floating.append(accent)
    return char, space


def _place_marks(lines: list[_Line], marks: list[_Accent]) -> None:
    """Put each mark no neighbouring letter took on the glyph under it, in the first line whose
    band it overlaps."""
    for mark, x, bottom, top in marks:
        for line in lines:
            part = line.parts[-1]
            over = min(part.top, top) - max(part.bottom, bottom) > 0.3 * (top - bottom)
            if over and any(p.mark(mark, x) for p in line.parts):
                break


def _spelt_spaces(raw: Any, chars: list[str]) -> bool:
    """Most of the page's spaces are characters of the PDF, not ones PDFium inferred."""
    import pypdfium2.raw as pdfium_c

    spaces = [i for i, c in enumerate(chars) if c == " "]
    if not spaces:
        return False
    sample = spaces[:: max(1, len(spaces) // 50)]  # fifty are enough to tell
    real = sum(pdfium_c.FPDFText_IsGenerated(raw, i) == 0 for i in sample)
    return real > len(sample) / 2


def _mark(chars: list[str]) -> bool:
    """The word so far is short enough to be a footnote mark (``1``, ``12``, ``*``, ``a``)."""
    word = "".join(chars[-4:]).rpartition(" ")[2]
    return 0 < len(word) <= 3


def _leaders(part: _Part) -> bool:
    """The part ends in dot leaders, which lead to the page number after the gap."""
    tail = [c for c in part.chars[-12:] if not c.isspace()]
    return len(tail) >= 3 and all(c in ".\u2026\u00b7" for c in tail[-3:])


def clean_text(text: str) -> str:
    """Ligature code points expanded, Adobe's private-use small capitals and old-style
    figures read as the letters and digits they are, then NFC: what a reader (or a search)
    expects.

    >>> clean_text("e\\u0301 \\ufb01le")
    'é file'
    >>> clean_text("S\\uf76d\\uf761\\uf76c\\uf76c C\\uf761\\uf770\\uf773")
    'Small Caps'
    """
    return unicodedata.normalize("NFC", text.translate(_LIGATURES))


def _no_text(lines: list[_Line]) -> str:
    """What a glyph with no text (:data:`NO_TEXT`) is written as: a word break (an unmapped
    ligature: "in uence", as pdftotext's text splits it), unless so many of the page's glyphs
    have none that the layer is garbage, when U+FFFD keeps it garbage for
    :func:`.quality.text_layer_quality` (and OCR reads the page)."""
    glyphs = [c for line in lines for part in line.parts for c in part.chars if not c.isspace()]
    return "\ufffd" if glyphs.count(NO_TEXT) > MAX_BAD_SHARE * len(glyphs) else " "


def _textless(text: str, no_text: str) -> str:
    """``text`` with its glyphs without text written as ``no_text`` (one space at most)."""
    return re.sub(" {2,}", " ", text.replace(NO_TEXT, no_text)) if NO_TEXT in text else text


def _word_spans(part: _Part, text: str, to_pixels: Any) -> tuple[tuple[float, float], ...]:
    """The left and right pixel x of each word of ``text`` (the part's cleaned text), from its
    glyphs' boxes; empty when its words are not its glyphs' runs between spaces (a glyph
    without text written as a break)."""
    spans: list[tuple[float, float]] = []
    start = end = 0.0
    open_word = False
    xs = part.xs + part.xs[-1:] * (len(part.chars) - len(part.xs))  # a hyphenated word's rest
    for char, (left, right) in zip([*part.chars, " "], [*xs, (0.0, 0.0)], strict=True):
        if char.isspace() or char == NO_TEXT:
            if open_word:
                box = to_pixels(start, part.bottom, end, part.top)
                spans.append((box[0], box[2]))
            open_word = False
        elif not open_word:
            start, end, open_word = left, right, True
        else:
            end = max(end, right)
    return tuple(spans) if len(spans) == len(text.split()) else ()


def page_text_lines(page: Any, scale: float) -> list[TextLine]:
    """The lines of an open ``PdfPage``'s text layer, boxes in pixels at ``scale`` px/pt."""
    to_pixels = _to_pixels(page, scale)
    textpage = page.get_textpage()
    try:
        lines = _read_lines(textpage)
        styles = [(font_style(textpage.raw, ln.first), font_style(textpage.raw, ln.last))
                  for ln in lines]  # fmt: skip
    finally:
        textpage.close()
    no_text = _no_text(lines)
    out = []
    for line, ((bold_a, mono_a), (bold_b, mono_b)) in zip(lines, styles, strict=True):
        parts = [
            TextLine(
                text := clean_text(_textless("".join(p.chars), no_text)).strip(),
                to_pixels(p.left, p.bottom, p.right, p.top),
                words=_word_spans(p, text, to_pixels),
            )
            for p in line.parts
        ]
        parts = [p for p in parts if p.text.strip()]
        if not parts:
            continue
        box = union_all(p.bbox for p in parts)
        out.append(
            TextLine(
                text=" ".join(p.text for p in parts),
                bbox=box,
                font_size=line.size * scale if line.size > 0 else None,
                bold=bold_a and bold_b,
                mono=mono_a and mono_b,
                parts=tuple(parts) if len(parts) > 1 else (),
                words=tuple(w for p in parts for w in p.words),  # checked against the text
            )
        )
    return out

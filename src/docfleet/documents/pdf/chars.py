"""A text page's characters by PDFium's index: whole code points, glyphs with no text.

PDFium counts characters in UTF-16 code units: a character outside the Basic Multilingual Plane
(a TeX paper's math italic letters, U+1D44E on) is two, a high and a low surrogate with one
box. Its text range (``get_text_range``) pairs them and writes a hyphen that breaks a word at a
line's end as U+FFFE, but leaves out control characters, so it lines up with the indices only
when the page has none; ``FPDFText_GetUnicode`` gives the halves one at a time and the hyphen
as U+0002. Both come out here the same way: a character whole at its first index and ``""`` at
its second, the line-end hyphen as :data:`HYPHEN`, and :data:`NO_TEXT` for control characters,
which stand for glyphs with no Unicode (TeX's big brackets in cmex, ligatures of Type 3 fonts):
their boxes count, their characters are no text (pdftotext drops them too).
Callers hold ``PDFIUM_LOCK``.

>>> whole_chars([0x61, 0xD835, 0xDF0B, 0x02, 0x0D, 0x0A, 0x12, 0x62], lambda i: i == 3)
['a', '𝜋', '', '\\ufffe', '\\r', '\\n', '\\x00', 'b']
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Sequence
from typing import Any

#: PDFium's mark for a hyphen that breaks a word at the end of a line.
HYPHEN = "\ufffe"
#: A glyph whose character is a control character: its box counts for the line, not as text.
NO_TEXT = "\x00"
_KEPT_CONTROLS = frozenset((0x09, 0x0A, 0x0D))  # tab, and PDFium's own line breaks


def page_chars(textpage: Any) -> list[str]:
    """Every character of a ``PdfTextPage`` by index: one PDFium call for its text range when
    that holds one code unit per character, else one call per character."""
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    count = pdfium_c.FPDFText_CountChars(raw)
    if count <= 0:
        return []
    text = textpage.get_text_range(0, count, errors="surrogatepass")
    units = array("H", text.encode("utf-16-le", "surrogatepass"))
    if sys.byteorder == "big":
        units.byteswap()
    codes: Sequence[int] = units
    if len(units) != count:  # PDFium's text left control characters out
        get_unicode = pdfium_c.FPDFText_GetUnicode
        codes = [get_unicode(raw, i) for i in range(count)]
    return whole_chars(codes, lambda i: bool(pdfium_c.FPDFText_IsHyphen(raw, i)))


def whole_chars(codes: Sequence[int], is_hyphen: Callable[[int], bool]) -> list[str]:
    """One string per UTF-16 code unit in ``codes``: a surrogate pair whole at the first unit
    and ``""`` at the second, :data:`HYPHEN` where ``is_hyphen(index)`` says PDFium marked a
    line-end hyphen (U+0002 or U+FFFE), :data:`NO_TEXT` for control characters (but tab and
    line breaks), U+FFFD for a lone surrogate or a code that is no character."""
    chars = [NO_TEXT] * len(codes)
    i = 0
    while i < len(codes):
        code = codes[i]
        if 0xD800 <= code < 0xDC00 and i + 1 < len(codes) and 0xDC00 <= codes[i + 1] < 0xE000:
            chars[i] = chr(0x10000 + ((code - 0xD800) << 10) + (codes[i + 1] - 0xDC00))
            chars[i + 1] = ""
            i += 2
            continue
        if code in (0x02, 0xFFFE):
            chars[i] = HYPHEN if is_hyphen(i) else NO_TEXT  # else a control PDFium leaves out
        elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code == 0xFFFF:
            chars[i] = "\ufffd"
        elif not (code < 0x20 or 0x7F <= code < 0xA0) or code in _KEPT_CONTROLS:
            chars[i] = chr(code)
        i += 1
    return chars

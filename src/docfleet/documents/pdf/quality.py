"""Whether a PDF page's text layer is real text, usable instead of OCR: enough of it (a scan
may carry a stray text object), and mostly letters, digits and punctuation rather than unmapped
(U+FFFD), private-use, control or ``(cid:N)`` codes. Callers of :func:`image_cover` hold
``PDFIUM_LOCK``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from docfleet.page.types import TextLine

MIN_TEXT_CHARS = 16  # fewer non-space characters than this: a scan with a stray text object
MAX_IMAGE_COVER = 0.5  # ... when images cover this share of the page or more
MAX_BAD_SHARE = 0.10  # replacement, private-use, control and (cid:N) characters
MIN_GOOD_SHARE = 0.60  # letters, marks, digits, punctuation, math and currency signs
_BAD_CATEGORIES = ("Cc", "Co", "Cs", "Cn")
_CID_JUNK = re.compile(r"\(cid:\d+\)")


def image_cover(page: Any) -> float:
    """The share of an open ``PdfPage`` that images cover (1.0 for a scan)."""
    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = page.get_bbox()
    area = max((right - left) * (top - bottom), 1e-6)
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        x0, y0, x1, y1 = obj.get_bounds()
        width = max(0.0, min(x1, right) - max(x0, left))
        covered += width * max(0.0, min(y1, top) - max(y0, bottom))
    return min(1.0, covered / area)


def text_layer_quality(lines: Sequence[TextLine], *, image_cover: float = 1.0) -> tuple[bool, str]:
    """Whether a text layer is real text, usable instead of OCR; if not, the reason why.

    Little text is trusted on a page that images mostly leave bare (a title page, a chapter
    opening); on a scan it is a stray text object, and the page needs OCR.

    >>> from docfleet.page.types import TextLine
    >>> text_layer_quality([TextLine("Quarterly revenue grew 12% to $4.1M.", (0, 0, 1, 1))])
    (True, '')
    >>> text_layer_quality([TextLine("(cid:12)(cid:7)(cid:9)(cid:3)", (0, 0, 1, 1))])[0]
    False
    >>> text_layer_quality([TextLine("Chapter 3", (0, 0, 1, 1))], image_cover=0.0)
    (True, '')
    """
    text = " ".join(line.text for line in lines)
    chars = [c for c in text if not c.isspace()]
    if not chars or (len(chars) < MIN_TEXT_CHARS and image_cover >= MAX_IMAGE_COVER):
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

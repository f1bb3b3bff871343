"""A text-layer character's font style, bold and monospaced, from its font's name and flags.

PDFium's font weight is the font descriptor's, or one it derives from the stem width; for
Type 1 fonts that Ghostscript embeds that reads Latin Modern and Nimbus regulars as 625-812,
so the name decides where it says anything, and the weight only where it does not.
"""

from __future__ import annotations

import re
from typing import Any

_BOLD = re.compile(r"bold|black|heavy|semibold|demi|medi(?:um)?\b|[-+]medi|cmbx|cmb\d|bx\d", re.I)
#: A font name that says its weight is not bold (PDFium's weight for such a font may come from
#: its stem width and read 600-800: Latin Modern and Nimbus regulars embedded by Ghostscript).
_NOT_BOLD = re.compile(r"regular|regu|roman|book|light|thin|normal|italic|oblique|slant|cmr\d"
                       r"|cmtt|cmti|cmsl|cmmi|cmsy", re.I)  # fmt: skip
_MONO = re.compile(
    r"mono|courier|cursor|cmtt|sftt|typewriter|consol|inconsolata|code|tt\d|(?:t1x|tcx|tx)b?tt"
    r"|nimbusmon|pcr[rbo]\d|menlo|andale|lettergothic",
    re.I,
)  # txfonts' and newtx's typewriter (t1xtt, txbtt); URW's Courier (NimbusMonL, pcrr8a)


def font_style(raw: Any, index: int) -> tuple[bool, bool]:
    """Whether character ``index`` of a text page (``FPDF_TEXTPAGE``) is in a bold font, and
    whether in a monospaced one."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    flags = ctypes.c_int(0)
    buffer = ctypes.create_string_buffer(128)
    size = pdfium_c.FPDFText_GetFontInfo(raw, index, buffer, 128, ctypes.byref(flags))
    name = buffer.value.decode("utf-8", "replace") if 0 < size <= 128 else ""
    weight = pdfium_c.FPDFText_GetFontWeight(raw, index)
    return style_of(name, flags.value, weight)


def style_of(name: str, flags: int, weight: int) -> tuple[bool, bool]:
    """(bold, monospaced) for a font of this name, descriptor flags and PDFium weight.

    >>> style_of("LMRoman10-Regular", 0x4, 744), style_of("LMRoman12-Bold", 0x4, 820)
    ((False, False), (True, False))
    >>> style_of("ABCDEF+F12", 0x4, 700), style_of("t1xtt", 0x4, 400)
    ((True, False), (False, True))
    >>> style_of("NimbusMonL-Regu", 0x4, 400), style_of("NimbusRomNo9L-Regu", 0x4, 400)
    ((False, True), (False, False))
    """
    if _BOLD.search(name) or flags & (1 << 18):  # the name, or the ForceBold flag
        bold = True
    else:  # a weight only where the name says nothing of it
        bold = weight >= 700 and not _NOT_BOLD.search(name)
    return bold, bool(flags & 1) or bool(_MONO.search(name))

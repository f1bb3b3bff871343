"""Characters the reading of a text layer damaged, against PDFium's own text of the page.

A check for tests and benchmarks: the text of a page's lines should hold no U+FFFD, no control
character (but tab and newline), no lone surrogate and no U+FFFE that PDFium's own text of the
page (``get_text_range``) does not hold. A character split into its two UTF-16 halves shows up
as two U+FFFD; PDFium's soft-hyphen mark left in a word, as U+0002 or U+FFFE. (A page whose
glyphs so often have no Unicode that its layer is garbage writes them as U+FFFD, which counts
here too: :mod:`.text`.)

>>> damaged_chars("lim\\ufffd\\ufffd sub\\x02 mitted", "lim\\U0001d45b sub\\ufffe\\r\\nmitted")
Counter({'\\ufffd': 2, '\\x02': 1})
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path

from docfleet.documents.pdf.chars import HYPHEN
from docfleet.documents.pdf.render import open_pdf, pdf_text_lines


def is_damage(char: str) -> bool:
    """U+FFFD, U+FFFE, a lone surrogate, or a control character other than tab and newline."""
    code = ord(char)
    return (
        char in "\ufffd\ufffe"
        or 0xD800 <= code <= 0xDFFF
        or (unicodedata.category(char) == "Cc" and char not in "\t\n")
    )


def damaged_chars(text: str, reference: str) -> Counter[str]:
    """The damaged characters of ``text`` (:func:`is_damage`) that ``reference`` does not hold
    as many times, by character. PDFium's line breaks (CR LF) and hyphen marks in the
    reference are not text."""
    reference = reference.replace("\r\n", "\n").replace(HYPHEN, "")
    theirs = Counter(c for c in reference if is_damage(c))
    return Counter(c for c in text if is_damage(c)) - theirs


def pdfium_page_text(path: str | Path, page: int) -> str:
    """PDFium's own text of a 1-based page (``get_text_range``, bad UTF-16 as U+FFFD)."""
    with open_pdf(path) as pdf:
        pdf_page = pdf[page - 1]
        textpage = pdf_page.get_textpage()
        try:
            return textpage.get_text_range(errors="replace")
        finally:
            textpage.close()
            pdf_page.close()


def page_damage(path: str | Path, page: int) -> Counter[str]:
    """The damaged characters of a 1-based page's text lines (:func:`damaged_chars`)."""
    text = "\n".join(line.text for line in pdf_text_lines(path, page))
    return damaged_chars(text, pdfium_page_text(path, page))

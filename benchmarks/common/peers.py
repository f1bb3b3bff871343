"""The tools docfleet is measured against, each giving the text of PDF pages in this process.

Text layers: pdftotext, pypdfium2, PyMuPDF and pdfminer.six read the pages ``keys`` name in a
folder. OCR: ``rapidocr_loop`` is the loop a user writes around RapidOCR.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from .corpora import Key, Texts
from .textfidelity import pdftotext_page


def each_page(folder: Path, keys: list[Key], read: Callable[[Any], str]) -> Texts:
    """``read(page)`` for every key, each document opened once with PDFium."""
    texts = {}
    for name, group in groupby(keys, key=itemgetter(0)):
        document = pdfium.PdfDocument(folder / name)
        for _, n in group:
            page = document[n - 1]
            texts[name, n] = read(page)
            page.close()
        document.close()
    return texts


def pdftotext_texts(folder: Path, keys: list[Key]) -> Texts:
    """poppler's ``pdftotext -f N -l N`` (reading order)."""
    return {(name, n): pdftotext_page(folder / name, n) for name, n in keys}


def pypdfium2_texts(folder: Path, keys: list[Key]) -> Texts:
    """PDFium's text of the page, raw."""
    return each_page(folder, keys, lambda page: page.get_textpage().get_text_range())


def pymupdf_texts(folder: Path, keys: list[Key]) -> Texts:
    """PyMuPDF's ``page.get_text(sort=True)``."""
    import pymupdf

    texts = {}
    for name, group in groupby(keys, key=itemgetter(0)):
        with pymupdf.open(folder / name) as document:
            for _, n in group:
                texts[name, n] = document[n - 1].get_text(sort=True)
    return texts


def pdfminer_texts(folder: Path, keys: list[Key]) -> Texts:
    """pdfminer.six's ``extract_text(path, page_numbers=[i])``."""
    from pdfminer.high_level import extract_text

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    return {(name, n): extract_text(folder / name, page_numbers=[n - 1]) for name, n in keys}


def rapidocr_loop(
    pdfs: Sequence[Path], dpi: float, only: Collection[Key] | None = None
) -> dict[str, Any]:
    """The loop a user writes: render a page, OCR it, join the lines; one engine.

    One ``RapidOCR()`` with its default models and settings, pypdfium2 at ``dpi``, every page
    of ``pdfs`` (those in ``only`` when given). ``wall_s`` counts from the import, which is
    part of the start-up a user waits for; ``startup_s`` is the import and the creation of the
    engine; ``stage_seconds`` the mean ``render`` and ``ocr`` seconds per page.
    """
    start = time.perf_counter()
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "warning"})
    startup = time.perf_counter() - start
    texts: Texts = {}
    render_s = ocr_s = 0.0
    for path in pdfs:
        document = pdfium.PdfDocument(path)
        for number in range(1, len(document) + 1):
            if only is not None and (path.name, number) not in only:
                continue
            began = time.perf_counter()
            page = document[number - 1]
            image = page.render(scale=dpi / 72).to_numpy()
            page.close()
            rendered = time.perf_counter()
            texts[path.name, number] = "\n".join(engine(image).txts or ())
            render_s += rendered - began
            ocr_s += time.perf_counter() - rendered
        document.close()
    wall = time.perf_counter() - start
    pages = max(1, len(texts))
    return {
        "ok": True,
        "wall_s": wall,
        "startup_s": startup,
        "stage_seconds": {"render": render_s / pages, "ocr": ocr_s / pages},
        "texts": texts,
    }

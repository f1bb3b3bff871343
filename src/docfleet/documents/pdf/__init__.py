"""PDF pages as pixels, text lines and tensors, through PDFium.

Importing this package is cheap: pypdfium2 and torch load on first use. Every PDFium call holds
``PDFIUM_LOCK`` (PDFium is not thread-safe), so threads may share it; for parallel rendering use
processes.
"""

from __future__ import annotations

from docfleet.documents.pdf.errors import DOCUMENT_ERROR_KINDS, DocumentError
from docfleet.documents.pdf.quality import text_layer_quality
from docfleet.documents.pdf.render import (
    DEFAULT_DPI,
    DEFAULT_MAX_PIXELS,
    PDFIUM_LOCK,
    close_cached_documents,
    pdf_page_count,
    pdf_text_lines,
    render_pdf_page,
)
from docfleet.documents.pdf.tensors import iter_pdf_page_tensors, load_pdf_page_tensors, round_robin

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_PIXELS",
    "DOCUMENT_ERROR_KINDS",
    "PDFIUM_LOCK",
    "DocumentError",
    "close_cached_documents",
    "iter_pdf_page_tensors",
    "load_pdf_page_tensors",
    "pdf_page_count",
    "pdf_text_lines",
    "render_pdf_page",
    "round_robin",
    "text_layer_quality",
]

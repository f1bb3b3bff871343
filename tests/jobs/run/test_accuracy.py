"""OCR accuracy on PDFs with known text, and OCR against the embedded text layer.

Bounds come from measurement on these pages at 150 dpi (CER 0.0 when measured, for text in
Helvetica, Times and Courier from 9 to 20 pt, two columns and a table); they leave room for a
character or two of drift between model or runtime versions.
"""

from __future__ import annotations

import pytest
from docs_factory import one_column_page, reportlab_pdf, table_page, two_column_page

from docfleet import Fleet
from docfleet.jobs.run.config import DocumentOptions
from docfleet.jobs.run.job import map_pages, page_tasks
from docfleet.page.metrics import cer

OCR_CER_BOUND = 0.015
PAGES = [one_column_page(), two_column_page(), table_page()]


def plain(text: str) -> str:
    return text.replace(" | ", " ")


@pytest.fixture(scope="module")
def known_pdf(tmp_path_factory):
    return reportlab_pdf(tmp_path_factory.mktemp("acc") / "known.pdf", PAGES)


def texts(pdf, **options) -> list[str]:
    opts = DocumentOptions(**options)
    fleet = Fleet(devices="cpu", workers="thread", replicas=2, progress=False)
    results = list(map_pages(fleet, page_tasks([pdf], opts), opts))
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
    return [plain(r.value["text"]) for r in results]


def test_ocr_of_clean_150_dpi_text_is_within_the_measured_error_bound(known_pdf):
    ocr = texts(known_pdf, ocr="always", pipeline="layout+ocr")
    for spans, text in zip(PAGES, ocr, strict=True):
        truth = " ".join(span.text for span in spans)
        assert cer(truth, text) <= OCR_CER_BOUND, (truth, text)


def test_ocr_text_is_close_to_the_embedded_text_layer(known_pdf):
    ocr = texts(known_pdf, ocr="always", pipeline="ocr")
    layer = texts(known_pdf, ocr="never", pipeline="ocr")
    for spans, from_ocr, from_layer in zip(PAGES, ocr, layer, strict=True):
        truth = " ".join(span.text for span in spans)
        assert cer(truth, from_layer) == 0.0
        assert cer(from_layer, from_ocr) <= OCR_CER_BOUND

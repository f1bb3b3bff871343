"""``docfleet bin`` takes a PDF page's text from its text layer where ``docfleet run`` does: a
born-digital page is binned by its text without OCR, a scanned one is OCRed, ``--ocr`` decides
as it does for ``run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docs_factory import Span, reportlab_pdf, scanned_pdf

pytest.importorskip("rapidocr")

CPU = ("--devices", "cpu", "--no-progress")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pdfs")
    prose = [Span(f"Quarterly maintenance report, line {i}, pumps and valves", 72, 700 - 20 * i)
             for i in range(12)]  # fmt: skip
    reportlab_pdf(folder / "born-digital.pdf", [prose])
    scanned_pdf(folder / "scan.pdf", "SCANNED INSPECTION NOTE")
    return folder


def _bin(cli, inputs: list[Path], tmp_path: Path, bins: str, *flags: str) -> dict[str, dict]:
    file = tmp_path / "bins.yml"
    file.write_text(bins, encoding="utf-8")
    out = tmp_path / "out"
    args = [str(p) for p in inputs]
    proc = cli("bin", *args, "-o", str(out), "--bins", str(file), *flags, *CPU)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(x) for x in (out / "bins.jsonl").read_text().splitlines()]
    return {Path(r["document"]).name: r for r in records}


TEXT_BINS = """\
bins:
  - name: reports
    when: text contains "maintenance report" and text_lines >= 10
  - name: scans
    when: text contains "inspection"
  - name: other
"""


def test_a_born_digital_page_is_binned_by_its_text_layer_without_ocr(cli, pdfs, tmp_path):
    got = _bin(cli, [pdfs / "born-digital.pdf", pdfs / "scan.pdf"], tmp_path, TEXT_BINS)
    digital, scan = got["born-digital.pdf"], got["scan.pdf"]
    assert digital["bin"] == "reports" and digital["text_source"] == "text-layer"
    assert "ocr" not in digital["seconds"]  # the OCR stage never saw it
    assert digital["features"]["text_lines"] == 12
    assert digital["features"]["ocr_score"] == 1.0  # the layer's text is what the PDF says
    assert "line 11, pumps and valves" in digital["features"]["text"]
    assert scan["bin"] == "scans" and scan["text_source"] == "ocr"  # no text layer: OCR reads it
    assert scan["seconds"]["ocr"] > 0


def test_ocr_always_reads_a_text_layer_page_with_ocr(cli, pdfs, tmp_path):
    got = _bin(cli, [pdfs / "born-digital.pdf"], tmp_path, TEXT_BINS, "--ocr", "always")
    digital = got["born-digital.pdf"]
    assert digital["text_source"] == "ocr" and digital["seconds"]["ocr"] > 0
    assert digital["bin"] == "reports"  # OCR reads the same lines


def test_layout_rules_see_a_text_layer_page_that_ocr_skips(cli, pdfs, tmp_path):
    bins = "bins:\n  - name: prose\n    when: regions.text >= 1 and text_chars > 300\n"
    digital = _bin(cli, [pdfs / "born-digital.pdf"], tmp_path, bins)["born-digital.pdf"]
    assert digital["text_source"] == "text-layer" and "ocr" not in digital["seconds"]
    assert digital["seconds"]["layout"] > 0  # rendered for the layout model all the same
    assert digital["features"]["regions.text"] >= 1 and digital["bin"] == "prose"

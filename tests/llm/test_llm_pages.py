"""Page records for vision-language extraction: PDFs and images, by content; bad files recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_factory import Span, image_bytes, multi_frame, reportlab_pdf, truncated
from PIL import Image

from docfleet.documents.pdf.errors import DocumentError
from docfleet.llm.records.pages import input_kind, page_image, read_pages
from docfleet.llm.records.tabular import RecordError


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def two_page_pdf(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return reportlab_pdf(path, [[Span("Invoice 1", 72, 700)], [Span("Total 2", 72, 700)]])


def test_every_page_and_every_bad_file_gets_exactly_one_record(tmp_path: Path):
    scans = tmp_path / "scans"
    two_page_pdf(scans / "a.pdf")
    write(scans / "b" / "photo.dat", image_bytes(Image.new("RGB", (9, 7), "red"), "JPEG"))
    write(scans / "fake.png", b"not an image")
    write(scans / "empty.pdf", b"")
    truncated(two_page_pdf(tmp_path / "whole.pdf"), scans / "cut.pdf", 0.3)
    multi_frame(scans / "frames.tif", [(255, 0, 0), (0, 0, 255)])
    records = read_pages(scans)
    assert [(r.id.removeprefix(f"{scans}/"), r.error_type) for r in records] == [
        ("a.pdf#1", ""),
        ("a.pdf#2", ""),
        ("b/photo.dat#1", ""),
        ("cut.pdf#0", "unreadable"),
        ("empty.pdf#0", "empty"),
        ("fake.png#0", "not-a-document"),
        ("frames.tif#1", ""),
        ("frames.tif#2", ""),
    ]
    assert records[1].fields == {"file": "a.pdf", "page": "2", "pages": "2"}
    assert (records[1].page.document, records[1].page.kind) == (str(scans / "a.pdf"), "pdf")
    assert all(r.page is None for r in records if r.error)
    assert all(r.error for r in records if r.error_type)


def test_page_image_renders_the_page_the_record_names(tmp_path: Path):
    tiff = multi_frame(tmp_path / "frames.tif", [(255, 0, 0), (0, 0, 255)])
    first, second = (page_image(r.page) for r in read_pages(tiff))
    assert first.mode == "RGB" and first.getpixel((0, 0)) == (255, 0, 0)
    assert second.getpixel((0, 0)) == (0, 0, 255)
    pdf = read_pages(two_page_pdf(tmp_path / "doc.pdf"))
    assert page_image(pdf[0].page, dpi=72).size == (612, 792)
    assert page_image(pdf[0].page, dpi=144).size == (1224, 1584)


def test_a_page_that_vanished_raises_a_document_error(tmp_path: Path):
    record = read_pages(two_page_pdf(tmp_path / "doc.pdf"))[1]
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4 gone")
    with pytest.raises(DocumentError):
        page_image(record.page)


def test_input_kind_picks_records_when_a_folder_holds_any_record_file(tmp_path: Path):
    two_page_pdf(tmp_path / "mixed" / "a.pdf")
    write(tmp_path / "mixed" / "rows.jsonl", b'{"text": "x"}\n')
    two_page_pdf(tmp_path / "docs" / "a.pdf")
    assert input_kind(tmp_path / "mixed") == "records"
    assert input_kind(tmp_path / "docs") == "pages"
    assert input_kind(tmp_path / "docs" / "a.pdf") == "pages"


def test_missing_input_is_a_usage_error(tmp_path: Path):
    with pytest.raises(RecordError, match="does not exist"):
        read_pages(tmp_path / "nowhere")
    (tmp_path / "void").mkdir()
    with pytest.raises(RecordError, match="no files"):
        read_pages(tmp_path / "void")


def test_a_relative_input_gives_absolute_pages_and_ids_as_run_gives(tmp_path: Path, monkeypatch):
    two_page_pdf(tmp_path / "in" / "sub" / "a.pdf")
    monkeypatch.chdir(tmp_path)
    records = read_pages("in")
    assert [r.id for r in records] == ["in/sub/a.pdf#1", "in/sub/a.pdf#2"]
    assert records[0].fields["file"] == "sub/a.pdf"  # the prompt's {file}: inside the folder
    assert records[0].page.document == str(tmp_path / "in" / "sub" / "a.pdf")
    monkeypatch.chdir(tmp_path / "in")  # a worker elsewhere still finds the page
    assert page_image(records[1].page, dpi=36).size == (306, 396)


def test_a_limit_stops_before_the_files_past_it(tmp_path: Path):
    two_page_pdf(tmp_path / "a.pdf")
    two_page_pdf(tmp_path / "b.pdf")
    write(tmp_path / "c.pdf", b"")  # would be an error record, were it opened
    ids = [r.id.removeprefix(f"{tmp_path}/") for r in read_pages(tmp_path, limit=3)]
    assert ids == ["a.pdf#1", "a.pdf#2", "b.pdf#1"]
    assert len(read_pages(tmp_path)) == 5

"""Files become page tasks (one error task for a bad file) and tasks become rendered pages."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from docs_factory import (
    Span,
    bomb_png,
    empty_pdf,
    huge_page_pdf,
    image_bytes,
    multi_frame,
    one_column_page,
    reportlab_pdf,
    scanned_pdf,
    short_text_pdf,
    truncated,
)
from PIL import Image

from docfleet.documents.sources import DocumentError, expand_documents, load_page
from docfleet.io.inputs import find_inputs
from docfleet.page.types import PageTask


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    two_pages = [one_column_page(), [Span("Second page of the report, short.", 72, 700)]]
    reportlab_pdf(root / "a report.pdf", two_pages)
    multi_frame(root / "b scans.tif", [(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    (root / "c image named.pdf").write_bytes(image_bytes(Image.new("RGB", (40, 30)), "PNG"))
    (root / "d notes.pdf").write_text("a text file with a .pdf name\n")
    (root / "e zero.png").write_bytes(b"")
    empty_pdf(root / "f no pages.pdf")
    truncated(root / "a report.pdf", root / "g cut.pdf", 100)
    reportlab_pdf(root / "h secret.pdf", [[Span("hidden", 72, 700)]], encrypt="pw")
    bomb_png(root / "i bomb.png")
    reportlab_pdf(root / "j ünï ✓.txt", [[Span("a PDF named .txt", 72, 700)]])
    reportlab_pdf(root / "k new\nline.pdf", [[Span("newline in the name", 72, 700)]])
    return root


def summary(tasks: list[PageTask]) -> list[tuple[str, str | None, int, int, str]]:
    return [(Path(t.document).name, t.kind, t.page, t.pages, t.error_type) for t in tasks]


def test_every_file_yields_pages_or_one_error_task(folder: Path):
    tasks = list(expand_documents(find_inputs([folder])))
    assert summary(tasks) == [
        ("a report.pdf", "pdf", 1, 2, ""),
        ("a report.pdf", "pdf", 2, 2, ""),
        ("b scans.tif", "tiff", 1, 3, ""),
        ("b scans.tif", "tiff", 2, 3, ""),
        ("b scans.tif", "tiff", 3, 3, ""),
        ("c image named.pdf", "png", 1, 1, ""),
        ("d notes.pdf", None, 0, 0, "not-a-document"),
        ("e zero.png", None, 0, 0, "empty"),
        ("f no pages.pdf", "pdf", 0, 0, "empty"),
        ("g cut.pdf", "pdf", 0, 0, "unreadable"),
        ("h secret.pdf", "pdf", 0, 0, "encrypted"),
        ("i bomb.png", "png", 0, 0, "decompression-bomb"),
        ("j ünï ✓.txt", "pdf", 1, 1, ""),
        ("k new\nline.pdf", "pdf", 1, 1, ""),
    ]
    secret = next(t for t in tasks if t.error_type == "encrypted")
    assert "--password" in secret.error and secret.id.endswith("#0")
    for task in tasks:  # names with spaces, unicode and a newline open as well
        if not task.error_type:
            assert load_page(task, dpi=20).image.ndim == 3


def test_the_password_opens_encrypted_pdfs(folder: Path):
    (task,) = expand_documents([folder / "h secret.pdf"], password="pw")
    assert (task.page, task.pages, task.error_type) == (1, 1, "")
    page = load_page(task, dpi=72, want_text_layer=True, password="pw")
    assert [line.text for line in page.text_lines] == ["hidden"]
    (wrong,) = expand_documents([folder / "h secret.pdf"], password="nope")
    assert wrong.error_type == "encrypted" and "does not open" in wrong.error


def test_error_tasks_raise_their_error_at_load(folder: Path):
    for task in expand_documents(sorted(folder.iterdir())):
        if task.error_type:
            with pytest.raises(DocumentError) as info:
                load_page(task, dpi=72)
            assert (info.value.kind, str(info.value)) == (task.error_type, task.error)


def test_pdf_page_with_image_and_text_layer(folder: Path):
    task = next(expand_documents([folder / "a report.pdf"]))
    page = load_page(task, dpi=100, want_image=True, want_text_layer=True)
    assert page.image.shape == (page.height, page.width, 3) == (1100, 850, 3)
    assert page.dpi == 100 and not page.downscaled
    assert page.text_lines[0].text == "Annual Report 2024"
    assert page.text_lines[0].font_size == pytest.approx(20 * 100 / 72)
    assert page.seconds["render"] > 0


def test_text_only_load_skips_the_pixels_but_knows_the_size(folder: Path):
    task = next(expand_documents([folder / "a report.pdf"]))
    page = load_page(task, dpi=150, want_image=False, want_text_layer=True)
    assert page.image is None and (page.width, page.height) == (1275, 1650)
    assert len(page.text_lines) == 7


def test_a_scan_has_no_text_lines(tmp_path: Path):
    (task,) = expand_documents([scanned_pdf(tmp_path / "scan.pdf")])
    page = load_page(task, dpi=50, want_text_layer=True)
    assert page.text_lines is None and page.image is not None


def test_image_pages_ignore_the_text_layer(folder: Path):
    tasks = list(expand_documents([folder / "b scans.tif"]))
    page = load_page(tasks[1], dpi=150, want_text_layer=True)
    assert page.text_lines is None
    assert page.image.shape == (24, 32, 3) and page.image[12, 16].tolist() == [0, 255, 0]
    assert page.dpi == pytest.approx(72)
    (png,) = expand_documents([folder / "c image named.pdf"])
    assert load_page(png, want_image=False).image is None


def test_a_huge_pdf_page_is_downscaled_and_says_so(tmp_path: Path):
    (task,) = expand_documents([huge_page_pdf(tmp_path / "poster.pdf")])
    page = load_page(task, dpi=150, max_pixels=1_000_000)
    assert page.downscaled and page.width * page.height <= 1_000_000
    assert page.dpi < 150 and page.image.shape == (page.height, page.width, 3)


def test_a_file_that_changed_since_expansion_is_an_error(tmp_path: Path):
    path = reportlab_pdf(tmp_path / "doc.pdf", [[Span("one", 72, 700)], [Span("two", 72, 700)]])
    tasks = list(expand_documents([path]))
    reportlab_pdf(path, [[Span("only one now", 72, 700)]])
    assert load_page(tasks[0], dpi=20).image is not None
    with pytest.raises(DocumentError) as info:
        load_page(tasks[1], dpi=20)
    assert info.value.kind == "unreadable" and "change" in str(info.value)
    path.unlink()
    with pytest.raises(DocumentError) as info:
        load_page(tasks[0], dpi=20)
    assert info.value.kind == "unreadable"


def test_partly_truncated_pdfs_never_crash(tmp_path: Path, folder: Path):
    for share in (0.3, 0.6, 0.9):
        cut = truncated(folder / "a report.pdf", tmp_path / f"cut{share}.pdf", share)
        for task in expand_documents([cut]):
            try:
                page = load_page(task, dpi=30, want_text_layer=True)
            except DocumentError as exc:
                assert exc.kind in ("unreadable", "render-failed")
            else:
                assert isinstance(page.image, np.ndarray)


def test_document_errors_survive_pickling():
    error = DocumentError("encrypted", "x.pdf: the PDF is password-protected")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, str(copy)) == (error.kind, str(error))
    with pytest.raises(ValueError, match="unknown document error kind"):
        DocumentError("broken", "?")


def test_a_few_words_alone_are_text_but_a_few_words_on_a_scan_need_ocr(tmp_path: Path):
    from docfleet.stages.render import RenderStage

    stage = RenderStage(ocr="auto")
    alone = stage.render(PageTask(str(short_text_pdf(tmp_path / "a.pdf")), "pdf", 1, 1))
    assert alone.text_source == "text-layer" and alone.image is None
    assert [line.text for line in alone.text_lines] == ["Chapter 3"]
    stamped = short_text_pdf(tmp_path / "s.pdf", over_scan=True)
    on_scan = stage.render(PageTask(str(stamped), "pdf", 1, 1))
    assert on_scan.text_source == "ocr" and on_scan.image is not None

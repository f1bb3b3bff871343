"""PDF pages render to capped RGB pixels and their text layers to positioned lines."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from docs_factory import (
    Span,
    control_code_text_pdf,
    empty_pdf,
    form_pdf,
    huge_page_pdf,
    one_column_page,
    one_page_pdf,
    private_use_text_pdf,
    reportlab_pdf,
    scanned_pdf,
    slow_render_pdf,
    table_page,
    truncated,
    two_column_page,
)

from docfleet.documents.pdf import (
    PDFIUM_LOCK,
    DocumentError,
    load_pdf_page_tensors,
    pdf_page_count,
    pdf_text_lines,
    render_pdf_page,
    round_robin,
    text_layer_quality,
)
from docfleet.documents.pdf import render as render_module
from docfleet.documents.pdf.tensors import _device_names
from docfleet.engine.devices import DeviceError
from docfleet.page.types import TextLine

DPI = 150.0
SCALE = DPI / 72


@pytest.fixture(scope="module")
def text_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pages = [one_column_page(), two_column_page(), two_column_page(row_order=True), table_page()]
    return reportlab_pdf(tmp_path_factory.mktemp("pdf") / "text.pdf", pages)


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image.min(axis=2) < 128)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# --- rendering ------------------------------------------------------------------------------


def test_render_gives_rgb_uint8_on_white_at_the_asked_dpi(text_pdf: Path):
    image, dpi, downscaled = render_pdf_page(text_pdf, 1, dpi=DPI)
    assert image.shape == (1650, 1275, 3) and image.dtype == np.uint8
    assert image.flags.c_contiguous
    assert (dpi, downscaled) == (DPI, False)
    assert image[5, 5].tolist() == [255, 255, 255]
    x0, y0, _, _ = ink_box(image)
    assert abs(x0 - 72 * SCALE) < 3  # the title starts at x = 72 pt
    assert abs(y0 - (792 - 700 - 15) * SCALE) < 6  # cap height of 20 pt Helvetica-Bold
    small, _, _ = render_pdf_page(text_pdf, 1, dpi=72)
    assert small.shape == (792, 612, 3)


def test_form_fields_are_drawn(tmp_path: Path):
    image, _, _ = render_pdf_page(form_pdf(tmp_path / "form.pdf"), 1, dpi=72)
    x0, y0, x1, y1 = ink_box(image)
    assert 72 <= x0 < x1 <= 372 and 792 - 640 <= y0 < y1 <= 792 - 600


def test_a_huge_page_is_rendered_under_the_pixel_cap(tmp_path: Path):
    path = huge_page_pdf(tmp_path / "poster.pdf")  # 900 MP (2.7 GB of RGB) at 150 dpi
    image, dpi, downscaled = render_pdf_page(path, 1, dpi=DPI, max_pixels=2_000_000)
    height, width = image.shape[:2]
    assert downscaled and width * height <= 2_000_000 and width == height
    assert dpi == pytest.approx(72 * width / 14400, rel=0.01)
    half = width // 2  # the black square fills the top-left quarter
    assert image[half // 2, half // 2].tolist() == [0, 0, 0]
    assert image[half + half // 2, half + half // 2].tolist() == [255, 255, 255]
    scale, lowered = render_module.render_scale(14400, 14400, DPI, render_module.DEFAULT_MAX_PIXELS)
    assert lowered and (14400 * scale) ** 2 <= render_module.DEFAULT_MAX_PIXELS


def test_page_numbers_are_one_based_and_checked(text_pdf: Path):
    assert pdf_page_count(text_pdf) == 4
    with pytest.raises(IndexError, match="has 4 pages"):
        render_pdf_page(text_pdf, 5, dpi=72)
    with pytest.raises(IndexError):
        render_pdf_page(text_pdf, 0, dpi=72)


def test_encrypted_pdf_needs_its_password(tmp_path: Path):
    path = reportlab_pdf(tmp_path / "secret.pdf", [[Span("classified", 72, 700)]], encrypt="s3cret")
    with pytest.raises(DocumentError, match="password-protected; pass its password") as info:
        pdf_page_count(path)
    assert info.value.kind == "encrypted"
    with pytest.raises(DocumentError, match="password given does not open") as info:
        pdf_page_count(path, password="wrong")
    assert info.value.kind == "encrypted"
    assert pdf_page_count(path, password="s3cret") == 1
    assert [line.text for line in pdf_text_lines(path, 1, password="s3cret")] == ["classified"]


def test_broken_pdfs_raise_document_errors(tmp_path: Path, text_pdf: Path):
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    (tmp_path / "zero.pdf").write_bytes(b"")
    cases = [
        ("empty", empty_pdf(tmp_path / "no-pages.pdf")),
        ("unreadable", truncated(text_pdf, tmp_path / "cut.pdf", 60)),
        ("unreadable", tmp_path / "junk.pdf"),
        ("unreadable", tmp_path / "zero.pdf"),
        ("unreadable", tmp_path / "missing.pdf"),
    ]
    for kind, path in cases:
        with pytest.raises(DocumentError) as info:
            pdf_page_count(path)
        assert info.value.kind == kind, path.name
        assert path.name in str(info.value)


def test_a_slow_page_opens_instantly(tmp_path: Path):
    path = slow_render_pdf(tmp_path / "slow.pdf")
    assert path.stat().st_size < 10_000
    assert pdf_page_count(path) == 1
    assert pdf_text_lines(path, 1) == []


# --- text layer -----------------------------------------------------------------------------


def check_lines(
    lines: list[TextLine], spans: list[Span], page_height: float = 792.0, *, check_size=True
) -> None:
    """Lines match the drawn spans: same text, and boxes where the spans were drawn."""
    assert [line.text for line in lines] == [span.text for span in spans]
    for line, span in zip(lines, spans, strict=True):
        x0, y0, x1, y1 = line.bbox
        baseline = (page_height - span.y) * SCALE
        size = span.size * SCALE
        assert abs(x0 - span.x * SCALE) < 3, line
        assert abs(x1 - (span.x + span.width) * SCALE) < 4, line
        assert 0.6 * size < baseline - y0 < 1.2 * size, line  # ascent above the baseline
        assert 0 < y1 - baseline < 0.4 * size, line  # descent below it
        if check_size:
            assert line.font_size == pytest.approx(size, rel=0.01)


def test_one_column_lines_fonts_and_sizes(text_pdf: Path):
    check_lines(pdf_text_lines(text_pdf, 1, dpi=DPI), one_column_page())


def test_two_columns_give_one_line_per_column_row(text_pdf: Path):
    check_lines(pdf_text_lines(text_pdf, 2, dpi=DPI), two_column_page())


def test_columns_written_row_by_row_are_parts_of_one_line(text_pdf: Path):
    spans = two_column_page(row_order=True)
    lines = pdf_text_lines(text_pdf, 3, dpi=DPI)
    assert len(lines) == len(spans) // 2
    check_lines([part for line in lines for part in line.parts], spans, check_size=False)


def test_table_cells_are_the_parts_of_a_row(text_pdf: Path):
    spans = table_page()
    lines = pdf_text_lines(text_pdf, 4, dpi=DPI)
    assert [len(line.parts) for line in lines] == [3, 3, 3, 3]
    assert [line.text for line in lines] == ["Item Qty Price", "Apples 12 3.40", "Pears 7 2.10",
                                             "Plums 30 9.99"]  # fmt: skip
    assert lines[0].bold and not lines[1].bold
    check_lines([part for line in lines for part in line.parts], spans, check_size=False)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_boxes_follow_page_rotation_and_crop_box(tmp_path: Path, rotate: int):
    content = b"BT /F1 24 Tf 80 150 Td (Rotate me please) Tj ET"
    path = one_page_pdf(
        tmp_path / "r.pdf",
        content,
        mediabox=(0, 0, 400, 300),
        cropbox=(30, 20, 380, 280),
        rotate=rotate,
    )
    image, _, _ = render_pdf_page(path, 1, dpi=DPI)
    # the crop box is 350 x 260 pt: 730 x 542 px at 150 dpi, turned by the page rotation
    assert image.shape[:2] == ((542, 730) if rotate in (0, 180) else (730, 542))
    (line,) = pdf_text_lines(path, 1, dpi=DPI)
    assert line.text == "Rotate me please"
    ink = ink_box(image)
    x0, y0, x1, y1 = line.bbox
    assert x0 - 2 <= ink[0] and y0 - 2 <= ink[1] and ink[2] <= x1 + 2 and ink[3] <= y1 + 2
    box_area = (x1 - x0) * (y1 - y0)
    ink_area = (ink[2] - ink[0]) * (ink[3] - ink[1])
    assert ink_area > 0.6 * box_area


def test_quality_accepts_real_text_and_rejects_scans_and_garbage(tmp_path: Path, text_pdf: Path):
    assert text_layer_quality(pdf_text_lines(text_pdf, 1)) == (True, "")
    for page in (2, 3, 4):
        assert text_layer_quality(pdf_text_lines(text_pdf, page))[0]
    scan = pdf_text_lines(scanned_pdf(tmp_path / "scan.pdf"), 1)
    assert scan == []
    ok, why = text_layer_quality(scan)
    assert not ok and "too little text" in why
    for build in (control_code_text_pdf, private_use_text_pdf):
        lines = pdf_text_lines(build(tmp_path / f"{build.__name__}.pdf"), 1)
        assert len(lines) == 5
        ok, why = text_layer_quality(lines)
        assert not ok and "garbage" in why, build.__name__


def test_quality_thresholds():
    def quality(*texts: str) -> bool:
        return text_layer_quality([TextLine(t, (0, 0, 1, 1)) for t in texts])[0]

    sentence = "The committee approved the budget for 2025 on 3 March."
    assert quality(sentence)
    assert quality("Ошибка в документе: номер 42.", "第一章 总则 第一条 为了规范管理。")
    assert quality(sentence, "\uf0b7 bullet from a symbol font")  # a few stray codes are fine
    assert not quality("Page 1")  # too short
    assert not quality("(cid:3)(cid:17)(cid:42)(cid:5) (cid:8)(cid:9)(cid:11)(cid:12)")
    assert not quality(sentence + "\ufffd" * 12)
    assert not quality("■■■■ ◆◆◆◆ ●●●● ▲▲▲▲ ★★★★ ♣♣♣♣")


# --- PDFium is used under one lock ----------------------------------------------------------


def test_every_render_waits_for_the_pdfium_lock(text_pdf: Path):
    done = threading.Event()

    def work() -> None:
        render_pdf_page(text_pdf, 2, dpi=72)
        pdf_text_lines(text_pdf, 2)
        done.set()

    with PDFIUM_LOCK:
        thread = threading.Thread(target=work)
        thread.start()
        assert not done.wait(0.3)
    thread.join(10)
    assert done.is_set()


def test_threads_rendering_together_match_serial(text_pdf: Path, tmp_path: Path):
    other = reportlab_pdf(tmp_path / "other.pdf", [two_column_page(), table_page()])
    jobs = [(text_pdf, p) for p in (1, 2, 3, 4)] + [(other, 1), (other, 2)]
    serial = {job: render_pdf_page(*job, dpi=60)[0].sum() for job in jobs}
    results: dict[tuple[Path, int], int] = {}

    def work(offset: int) -> None:
        for job in jobs[offset:] + jobs[:offset]:
            results[job] = render_pdf_page(*job, dpi=60)[0].sum()
            pdf_text_lines(*job)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == serial


def test_document_cache_stays_small_and_sees_rewritten_files(tmp_path: Path):
    paths = [
        reportlab_pdf(tmp_path / f"d{i}.pdf", [[Span(f"doc {i}", 72, 700)]] * (i + 1))
        for i in range(render_module.CACHED_DOCUMENTS + 2)
    ]
    with render_module.open_pdf(paths[0]) as first:
        pass
    assert [pdf_page_count(p) for p in paths] == list(range(1, len(paths) + 1))
    assert len(render_module._cache) <= render_module.CACHED_DOCUMENTS
    assert first.raw is None  # evicted and closed
    reportlab_pdf(paths[-1], [[Span("rewritten", 72, 700)]])
    assert [line.text for line in pdf_text_lines(paths[-1], 1)] == ["rewritten"]
    render_module.close_cached_documents()
    assert not render_module._cache


# --- tensors --------------------------------------------------------------------------------


def test_tensors_are_chw_uint8_and_match_the_render(text_pdf: Path):
    import torch

    tensors = load_pdf_page_tensors(text_pdf, device=["cpu", "cpu"], dpi=36)
    assert len(tensors) == 4
    for page, tensor in enumerate(tensors, 1):
        image, _, _ = render_pdf_page(text_pdf, page, dpi=36)
        assert tensor.dtype == torch.uint8 and tensor.shape == (3, 396, 306)
        assert tensor.is_contiguous() and tensor.device.type == "cpu"
        assert torch.equal(tensor, torch.from_numpy(image).permute(2, 0, 1))


def test_round_robin_placement():
    assert round_robin(["cuda:0", "cuda:1", "cuda:2"], 7) == [
        "cuda:0",
        "cuda:1",
        "cuda:2",
        "cuda:0",
        "cuda:1",
        "cuda:2",
        "cuda:0",
    ]
    assert round_robin(["cpu", "cpu"], 3) == ["cpu", "cpu", "cpu"]
    assert round_robin(["a"], 0) == []
    with pytest.raises(ValueError, match="no devices"):
        round_robin([], 2)


def test_device_names_are_validated():
    assert _device_names(["cpu", "cpu"]) == ["cpu", "cpu"]
    assert _device_names("cpu") == ["cpu"]
    with pytest.raises(DeviceError, match="unknown device"):
        _device_names("gpu0")
    with pytest.raises(DeviceError):
        _device_names(["cpu", "tpu"])


def test_importing_the_package_loads_no_heavy_library():
    code = (
        "import sys, json\n"
        "import docfleet.documents.pdf, docfleet.documents.sources\n"
        "import docfleet.documents.images, docfleet.io.inputs\n"
        "heavy = ['torch', 'pypdfium2', 'PIL', 'numpy', 'reportlab']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_without_torch_the_error_says_how_to_install_it(text_pdf: Path):
    code = (
        "import sys, json\n"
        "sys.modules['torch'] = None\n"
        "from docfleet.documents.pdf import iter_pdf_page_tensors\n"
        "try:\n"
        f"    iter_pdf_page_tensors({str(text_pdf)!r})\n"
        "except ImportError as exc:\n"
        "    print(json.dumps(str(exc)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    message = json.loads(out.stdout)
    assert 'pip install "docfleet[torch]"' in message and "pytorch.org" in message


def test_letter_spaced_text_with_spelt_out_spaces_keeps_its_words(tmp_path: Path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "spaced.pdf"
    cv = canvas.Canvas(str(path))
    text = cv.beginText(72, 700)
    text.setFont("Helvetica", 12)
    text.setCharSpace(1.5)  # letters set wide apart, as ReportLab's guide shows
    text.textLine("she snarfed in one night")
    cv.drawText(text)
    cv.showPage()
    cv.save()
    assert [line.text for line in pdf_text_lines(path, 1)] == ["she snarfed in one night"]

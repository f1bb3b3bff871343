"""Scanned pages tilted a degree or two are found out and straightened before the models see
them; straight pages, blank ones and born-digital pages with rules and drawings are left alone;
straightening a real two-column page tilted 2 degrees puts its text back in reading order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from docfleet.documents.pdf import pdf_text_lines, render_pdf_page
from docfleet.documents.skew import MIN_ANGLE, skew_angle, straighten

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _tilted(name: str, angle: float, dpi: int = 150) -> np.ndarray:
    """A real page rendered in grey and turned ``angle`` degrees counter-clockwise, as a sheet
    fed askew comes out of a scanner (the paper fills the corners)."""
    image, _, _ = render_pdf_page(REAL / name, 1, dpi=dpi)
    gray = Image.fromarray(image).convert("L")
    turned = gray.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=238)
    return np.array(turned.convert("RGB"))


@pytest.mark.parametrize("angle", [-4.0, -1.2, 0.8, 1.7, 2.5])
def test_the_tilt_of_a_real_page_is_found(angle: float) -> None:
    page = _tilted("two-column-paper.pdf", angle)
    assert skew_angle(page, 150) == pytest.approx(angle, abs=0.15)
    assert skew_angle(straighten(page, skew_angle(page, 150)), 150) == 0.0


def test_straight_and_blank_pages_are_left_alone() -> None:
    names = [row["file"] for row in json.loads((REAL / "pages.json").read_text())]
    assert len(names) > 20
    for name in names:  # born-digital: straight, with rules, tables, drawings and slides
        image, _, _ = render_pdf_page(REAL / name, 1, dpi=100)
        assert skew_angle(image, 100) == 0.0, name
    assert skew_angle(np.full((1100, 850, 3), 240, np.uint8), 100) == 0.0
    page = _tilted("latex-ligatures.pdf", MIN_ANGLE / 2)
    assert skew_angle(page, 150) == 0.0  # too little to be worth resampling the characters
    assert straighten(page, 0.0) is page


def test_straightening_keeps_the_size_and_fills_the_corners_with_paper() -> None:
    page = _tilted("two-column-paper.pdf", 3.0)
    out = straighten(page, 3.0)
    assert out.shape == page.shape and out.dtype == np.uint8
    corners = out[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.min() >= 235  # paper (the page's white or the scanner's grey), never black


def test_a_tilted_scan_is_read_in_order_only_when_straightened(cli, tmp_path: Path) -> None:
    from docfleet.page.metrics import cer

    pytest.importorskip("rapidocr")
    scan = tmp_path / "scan.pdf"
    Image.fromarray(_tilted("two-column-paper.pdf", 2.0, dpi=200)).save(scan, resolution=200)
    truth = "\n".join(line.text for line in pdf_text_lines(REAL / "two-column-paper.pdf", 1))
    records = {}
    for deskew in ("true", "false"):
        out = tmp_path / deskew
        proc = cli("run", str(scan), "-o", str(out), "--devices", "cpu", "--no-progress",
                   "--ocr-model", "tiny", "--pipeline", "ocr", "--dpi", "200",
                   "--set", f"render.deskew={deskew}")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        [records[deskew]] = [json.loads(x) for x in (out / "pages.jsonl").read_text().splitlines()]
    assert records["true"]["skew"] == pytest.approx(2.0, abs=0.15)
    assert "skew" not in records["false"]
    straightened, as_scanned = (cer(truth, records[k]["text"]) for k in ("true", "false"))
    assert straightened < 0.6 * as_scanned, (straightened, as_scanned)

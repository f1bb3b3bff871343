"""A folder laid out as benchmarks/scanned_corpus.py builds it, from one real page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "tests" / "data" / "real" / "latex-ligatures.pdf"


def scanned_folder(root: Path, folder: str = "scanned") -> Path:
    """``root`` with the page printed to pixels as an image-only PDF in ``folder`` (the easy
    set's; ``scanned-hard`` for the hard one), its known text and a blank tiny page."""
    from PIL import Image

    from docfleet.documents.pdf import pdf_text_lines, render_pdf_page

    image, _dpi, _ = render_pdf_page(PAGE, 1, dpi=150)
    (root / folder).mkdir(parents=True)
    (root / "tiny").mkdir()
    Image.fromarray(image).save(root / folder / "scan-00.pdf", resolution=150)
    Image.new("L", (150, 150), 255).save(root / "tiny" / "tiny.pdf", resolution=150)
    text = " ".join(line.text for line in pdf_text_lines(PAGE, 1))
    row = {"document": "scan-00.pdf", "page": 1, "text": text}
    (root / "truth.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    manifest = {folder: {"files": [{"document": "scan-00.pdf"}]}, "tiny": {"pages": 1}}
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


@pytest.fixture
def scanned_corpus(tmp_path: Path) -> Callable[..., Path]:
    """Builds :func:`scanned_folder` under the test's temporary folder."""
    return lambda folder="scanned": scanned_folder(tmp_path / "corpus", folder)

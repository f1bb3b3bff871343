"""Display formulas on OCR pages: the layout model's equation region becomes a ``formula``
block whose crop is a PNG beside the document's Markdown, which shows it as an image.

The real page is lmer.pdf's page 10 (tests/data/real/README.md), rendered and read with
``--ocr always``: the layout model marks its display equation.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from docfleet.page.formulas import crop_box
from docfleet.page.types import PageTask, Region, RenderedPage, TextLine
from docfleet.stages.assemble import page_record

PAGE = Path(__file__).parents[1] / "data" / "real" / "display-equation.pdf"


def test_a_display_formula_is_cropped_beside_the_markdown_and_shown_as_an_image(cli, tmp_path):
    out = tmp_path / "out"
    done = cli("run", str(PAGE), "-o", str(out), "--ocr", "always", "--devices", "cpu",
               "--no-progress", timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = (out / "pages.jsonl").read_text(encoding="utf-8")
    record = json.loads(line)
    formulas = [b for b in record["blocks"] if b["type"] == "formula"]
    assert len(formulas) == 1 and "_assets" not in line  # the bytes never reach pages.jsonl
    formula = formulas[0]
    assert formula["image"] == "display-equation.pdf.assets/page-1-formula-1.png"
    assert formula["text"] and formula["text"] in record["text"]  # its OCR text is kept
    png = out / "documents" / formula["image"]
    with Image.open(png) as image:
        assert image.format == "PNG"
        x0, y0, x1, y1 = crop_box(formula["bbox"], record["width"], record["height"])
        assert image.size == (x1 - x0, y1 - y0)
        assert image.size[0] > 200 and image.size[1] > 50  # a matrix over several lines
    markdown = (out / "documents" / "display-equation.pdf.md").read_text(encoding="utf-8")
    assert f"![formula]({formula['image']})" in markdown
    assert "$$" not in markdown and formula["text"].split("\n")[0] not in markdown


def scanned_formula(formulas: str) -> dict:
    """A synthetic page: a line of text and an equation region over a dark patch."""
    image = np.full((400, 300, 3), 255, np.uint8)
    image[200:240, 50:250] = 0
    page = RenderedPage(PageTask("scan.png", "image", 1, 1), 300, 400, 150.0, image=image)
    page.regions = [Region("text", (40, 100, 260, 130), 0.9),
                    Region("equation", (50.2, 199.6, 249.5, 240.0), 0.9)]  # fmt: skip
    page.ocr_lines = [TextLine("Some words of text.", (45, 102, 250, 126), 0.9),
                      TextLine("x = y + 1", (60, 205, 240, 235), 0.6)]  # fmt: skip
    return page_record(page, formulas=formulas)


def test_the_crop_is_the_regions_pixels_and_text_keeps_the_old_way():
    record = scanned_formula("image")
    (name, data), = record["_assets"].items()  # fmt: skip
    assert name == "scan.png.assets/page-1-formula-1.png"
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image)
    assert pixels.shape == (41, 200, 3) and pixels[1:40].max() == 0  # the patch, whole
    assert record["markdown"].endswith("![formula](scan.png.assets/page-1-formula-1.png)")
    as_text = scanned_formula("text")
    assert "_assets" not in as_text and as_text["markdown"].endswith("$$\nx = y + 1\n$$")
    assert [b["type"] for b in as_text["blocks"]] == ["text", "equation"]

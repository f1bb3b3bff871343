"""Pages without ink skip the models; a lone page number is ink; small pages skip layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from docfleet.documents.ink import ink_pixels, is_blank

pytest.importorskip("rapidocr")


def _paper(width: int, height: int, seed: int) -> Image.Image:
    """Grey scanner paper with noise, saved through JPEG as a scan would be."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(236, 7, (height, width)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).convert("RGB")


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def test_noise_and_dust_are_blank_a_page_number_is_not() -> None:
    page = _paper(1700, 2200, 0)
    arr = np.array(page)
    assert is_blank(arr, 200)
    arr[900:903, 700:703] = 30  # a speck of dust
    assert is_blank(arr, 200)
    numbered = _paper(1700, 2200, 1)
    ImageDraw.Draw(numbered).text((850, 2100), "7", fill=(20, 20, 20), font=_font(28))
    assert not is_blank(np.array(numbered), 200)
    assert ink_pixels(np.array(numbered)) > 24


def test_the_threshold_follows_the_resolution() -> None:
    page = np.full((800, 600, 3), 245, np.uint8)
    page[400:405, 300:304] = 10  # 20 px: a full stop at 100 dpi, a speck at 300 dpi
    assert not is_blank(page, 100)
    assert is_blank(page, 300)


def test_a_run_writes_blank_pages_empty_and_small_pages_without_layout(cli, tmp_path: Path) -> None:
    text_page = _paper(1700, 2200, 2)
    draw = ImageDraw.Draw(text_page)
    for i, line in enumerate(["Quarterly report", "Revenue grew in every region", "Page 7"]):
        draw.text((200, 300 + 120 * i), line, fill=(25, 25, 25), font=_font(48))
    label = _paper(200, 200, 3)
    ImageDraw.Draw(label).text((20, 80), "SKU 4411", fill=(20, 20, 20), font=_font(30))
    pdf = tmp_path / "scan.pdf"
    text_page.save(pdf, save_all=True, resolution=200,
                   append_images=[_paper(1700, 2200, 4), label])  # fmt: skip
    out = tmp_path / "out"
    proc = cli("run", str(pdf), "-o", str(out), "--devices", "cpu", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    pages = [json.loads(line) for line in (out / "pages.jsonl").read_text().splitlines()]
    first, blank, small = sorted(pages, key=lambda p: p["page"])
    assert first["text_source"] == "ocr" and "Revenue grew in every region" in first["text"]
    assert "layout" in first["seconds"] and first["ocr"]["lines"] >= 3
    assert blank["text_source"] == "blank" and blank["text"] == "" and blank["blocks"] == []
    assert "ocr" not in blank["seconds"] and "layout" not in blank["seconds"]
    assert small["text"].replace(" ", "") == "SKU4411"
    assert "layout" not in small["seconds"]  # one inch square: no layout model

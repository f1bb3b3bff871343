"""``docfleet bin`` on real images with the real OCR and layout models: every image in exactly
one bin or one error record, the rule that decided, files placed, resume, and usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr")

BINS = """\
bins:
  - name: documents
    when: text_lines >= 6
  - name: labels
    when: text_chars > 0 and text contains "sku"
  - name: other
"""


def _image(path: Path, lines: list[str], size: tuple[int, int] = (1100, 1400)) -> Path:
    image = Image.new("RGB", size, (250, 250, 248))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    for i, line in enumerate(lines):
        draw.text((80, 80 + 60 * i), line, fill=(20, 20, 20), font=font)
    image.save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    prose = [f"Line {i} of the quarterly maintenance report for pumps" for i in range(10)]
    _image(folder / "report.png", prose)
    _image(folder / "label.png", ["SKU 4411", "Blue widget"])
    _image(folder / "empty.png", [])
    Image.fromarray(np.full((300, 300, 3), 90, np.uint8)).save(folder / "dark.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


CPU = ("--devices", "cpu", "--no-progress")


def test_every_image_ends_in_one_bin_or_one_error(cli, images: Path, tmp_path: Path) -> None:
    bins = tmp_path / "bins.yml"
    bins.write_text(BINS, encoding="utf-8")
    out = tmp_path / "out"
    proc = cli("bin", str(images), "-o", str(out), "--bins", str(bins), "--place", "link", *CPU)
    assert proc.returncode == 1, proc.stderr  # the broken PNG
    lines = [json.loads(x) for x in (out / "bins.jsonl").read_text().splitlines()]
    by_name = {Path(r["document"]).name: r for r in lines}
    assert set(by_name) == {"report.png", "label.png", "empty.png", "dark.jpg", "broken.png"}
    assert by_name["report.png"]["bin"] == "documents"
    assert by_name["report.png"]["rule"] == "when: text_lines >= 6"
    assert by_name["report.png"]["features"]["text_lines"] >= 6
    assert by_name["label.png"]["bin"] == "labels"
    assert by_name["empty.png"]["bin"] == by_name["dark.jpg"]["bin"] == "other"
    assert by_name["empty.png"]["rule"] == "default"
    assert by_name["broken.png"]["status"] == "error"
    assert (out / "documents" / "report.png").samefile(images / "report.png")  # linked
    assert sorted(p.name for p in (out / "other").iterdir()) == ["dark.jpg", "empty.png"]
    again = cli("bin", str(images), "-o", str(out), "--bins", str(bins), *CPU)
    assert again.returncode == 1 and "kept from before" in again.stderr
    assert len((out / "bins.jsonl").read_text().splitlines()) == 5  # nothing twice


def test_a_rule_typo_stops_before_any_model(cli, images: Path, tmp_path: Path) -> None:
    bins = tmp_path / "bins.yml"
    bins.write_text("bins:\n  - name: docs\n    when: text_char > 3\n  - name: other\n")
    proc = cli("bin", str(images), "-o", str(tmp_path / "out"), "--bins", str(bins), *CPU)
    assert proc.returncode == 2
    assert "did you mean text_chars" in proc.stderr and "column 1" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_prompts_without_a_clip_model_are_a_usage_error(cli, images: Path, tmp_path: Path) -> None:
    bins = tmp_path / "bins.yml"
    bins.write_text("bins:\n  - name: photos\n    prompts: [a photo]\n  - name: other\n")
    proc = cli("bin", str(images), "-o", str(tmp_path / "out"), "--bins", str(bins), *CPU)
    assert proc.returncode == 2 and "--clip-model" in proc.stderr


def test_clip_prompts_and_captions_take_part(
    cli, images: Path, tmp_path: Path, tiny_clip: Path, tiny_blip: Path
) -> None:
    bins = tmp_path / "bins.yml"
    bins.write_text(
        "bins:\n"
        "  - name: captioned\n"
        "    when: caption contains 'zzzz-never'\n"
        "  - name: pictures\n"
        "    prompts: [a photo, a picture]\n"
        "    min_similarity: 0\n"
        "  - name: other\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    models = ["--clip-model", str(tiny_clip), "--caption-model", str(tiny_blip)]
    pages = [str(images / "report.png"), str(images / "label.png")]
    proc = cli("bin", *pages, "-o", str(out), "--bins", str(bins), *models, *CPU)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in (out / "bins.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    for record in lines:
        similarity = record["features"]["clip.pictures"]
        assert -1 <= similarity <= 1
        assert record["bin"] == ("pictures" if similarity >= 0 else "other")
        assert isinstance(record["features"]["caption"], str)
        assert record["features"]["text_lines"] == 0  # no rule reads OCR: it did not run

"""Image documents decode upright to 8-bit RGB in every mode, and bombs are refused."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from docs_factory import (
    bomb_png,
    exif_rotated_jpeg,
    multi_frame,
    png_bytes,
    rgb16_png,
    truncated,
)
from PIL import Image

from docfleet.documents.images import image_page_count, load_image_page, read_image_page
from docfleet.documents.pdf.errors import DocumentError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def near(pixel: np.ndarray, color: tuple[int, int, int], tolerance: int = 6) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(color)) <= tolerance))


def check_rgb(image: np.ndarray, shape: tuple[int, int]) -> None:
    assert image.dtype == np.uint8
    assert image.shape == (*shape, 3)
    assert image.flags.c_contiguous and image.flags.writeable


def test_exif_rotated_jpeg_ends_upright(tmp_path: Path):
    path = tmp_path / "sideways.jpg"
    exif_rotated_jpeg(path)
    with Image.open(path) as stored:
        assert stored.size == (100, 200)  # stored sideways
    image, downscaled = load_image_page(path, 1)
    check_rgb(image, (100, 200))
    assert not downscaled
    assert near(image[50, 20], RED, 12) and near(image[50, 180], BLUE, 12)


def test_cmyk_converts_to_rgb(tmp_path: Path):
    for fmt, name in (("JPEG", "cmyk.jpg"), ("TIFF", "cmyk.tif")):
        Image.new("CMYK", (16, 12), (0, 255, 255, 0)).save(tmp_path / name, fmt, quality=95)
        image, _ = load_image_page(tmp_path / name)
        check_rgb(image, (12, 16))
        assert near(image[6, 8], RED, 10), (fmt, image[6, 8])


def test_16_bit_gray_is_scaled_not_clipped(tmp_path: Path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    Image.fromarray(values).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as stored:
        assert stored.mode == "I;16"
    image, _ = load_image_page(tmp_path / "g16.png")
    check_rgb(image, (1, 4))
    assert image[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (image[..., 0] == image[..., 2]).all()


def test_16_bit_rgb_png(tmp_path: Path):
    rgb = np.zeros((2, 3, 3), dtype=np.uint16)
    rgb[0, 0] = (65535, 0, 32896)
    rgb[1, 2] = (0, 65535, 0)
    image, _ = load_image_page(rgb16_png(tmp_path / "rgb16.png", rgb))
    check_rgb(image, (2, 3))
    assert image[0, 0].tolist() == [255, 0, 128]
    assert image[1, 2].tolist() == [0, 255, 0]


def test_float_tiff_in_0_1_range(tmp_path: Path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(tmp_path / "f.tif")
    image, _ = load_image_page(tmp_path / "f.tif")
    assert image[0, :, 1].tolist() == [0, 128, 255]


def test_palette_with_transparency_lands_on_white(tmp_path: Path):
    palette = Image.new("P", (4, 2), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "p.png", transparency=0)
    image, _ = load_image_page(tmp_path / "p.png")
    assert image[0, 0].tolist() == [255, 255, 255]  # transparent black: white paper
    assert image[0, 1].tolist() == [255, 0, 0]


def test_gray_alpha_one_bit_and_rgba(tmp_path: Path):
    Image.new("LA", (3, 3), (0, 128)).save(tmp_path / "la.png")
    Image.new("1", (3, 3), 0).save(tmp_path / "bw.png")
    Image.new("RGBA", (3, 3), (0, 0, 255, 0)).save(tmp_path / "rgba.webp", lossless=True)
    assert load_image_page(tmp_path / "la.png")[0][1, 1].tolist() == [127, 127, 127]
    assert load_image_page(tmp_path / "bw.png")[0][1, 1].tolist() == [0, 0, 0]
    assert load_image_page(tmp_path / "rgba.webp")[0][1, 1].tolist() == [255, 255, 255]


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "WEBP"])
def test_every_frame_is_a_page(tmp_path: Path, fmt: str):
    path = multi_frame(tmp_path / f"frames.{fmt.lower()}", [RED, GREEN, BLUE], fmt)
    assert image_page_count(path) == 3
    for page, color in enumerate([RED, GREEN, BLUE], 1):
        image, _ = load_image_page(path, page)
        check_rgb(image, (24, 32))
        assert near(image[12, 16], color), (fmt, page, image[12, 16])
    with pytest.raises(IndexError, match="has 3 pages"):
        load_image_page(path, 4)


def test_single_image_formats_have_one_page(tmp_path: Path):
    for fmt in ("PNG", "JPEG", "BMP"):
        Image.new("RGB", (5, 4), GREEN).save(tmp_path / f"x.{fmt}", fmt)
        assert image_page_count(tmp_path / f"x.{fmt}") == 1
        assert near(load_image_page(tmp_path / f"x.{fmt}")[0][2, 2], GREEN)


def test_a_declared_bomb_is_refused_before_decoding(tmp_path: Path):
    path = bomb_png(tmp_path / "bomb.png")  # 10 gigapixels declared, 100 bytes on disk
    assert path.stat().st_size < 200
    with pytest.raises(DocumentError) as info:
        image_page_count(path)
    assert info.value.kind == "decompression-bomb"
    with pytest.raises(DocumentError) as info:
        load_image_page(path, max_pixels=40_000_000)
    assert info.value.kind == "decompression-bomb"


def test_own_limit_applies_below_pils_and_no_warning_leaks(tmp_path: Path):
    # 10,000 x 10,000 = 100 MP: above PIL's warning threshold, below its error threshold.
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(10_000, 10_000, b"\x00" * 64, bit_depth=1, color=0))
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert image_page_count(path) == 1
        with pytest.raises(DocumentError, match="decompression bomb") as info:
            load_image_page(path, max_pixels=1_000_000)  # hard limit 20 MP
    assert info.value.kind == "decompression-bomb"
    assert caught == []
    assert warnings.filters == filters


def test_large_image_is_downscaled_under_the_cap(tmp_path: Path):
    big = Image.new("RGB", (1200, 800), RED)
    big.paste(BLUE, (600, 0, 1200, 800))
    big.save(tmp_path / "big.png", dpi=(300, 300))
    data = read_image_page(tmp_path / "big.png", max_pixels=100_000)
    height, width = data.image.shape[:2]
    assert data.downscaled and width * height <= 100_000
    assert abs(width / height - 1.5) < 0.02
    assert near(data.image[height // 2, 5], RED) and near(data.image[height // 2, -5], BLUE)
    assert data.dpi == pytest.approx(300 * width / 1200, rel=0.01)
    small = read_image_page(tmp_path / "big.png", max_pixels=10_000_000)
    assert not small.downscaled and small.dpi == pytest.approx(300)


def test_large_jpeg_is_decoded_at_reduced_size(tmp_path: Path):
    Image.new("RGB", (2400, 1600), GREEN).save(tmp_path / "big.jpg", quality=80)
    image, downscaled = load_image_page(tmp_path / "big.jpg", max_pixels=200_000)
    assert downscaled and image.shape[0] * image.shape[1] <= 200_000
    assert near(image[10, 10], GREEN, 10)


def test_an_image_without_stated_dpi_counts_as_72(tmp_path: Path):
    Image.new("RGB", (10, 10)).save(tmp_path / "plain.png")
    assert read_image_page(tmp_path / "plain.png").dpi == pytest.approx(72)


def test_damaged_images_are_unreadable(tmp_path: Path):
    Image.new("RGB", (300, 300), RED).save(tmp_path / "whole.png")
    Image.new("RGB", (300, 300), RED).save(tmp_path / "whole.jpg")
    for name in ("whole.png", "whole.jpg"):
        cut = truncated(tmp_path / name, tmp_path / f"cut-{name}", 0.5)
        with pytest.raises(DocumentError) as info:
            load_image_page(cut)
        assert info.value.kind == "unreadable", name
    header_only = truncated(tmp_path / "whole.png", tmp_path / "header.png", 20)
    with pytest.raises(DocumentError) as info:
        image_page_count(header_only)
    assert info.value.kind == "unreadable"


def test_non_images_are_not_documents(tmp_path: Path):
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4\n")
    for name in ("notes.png", "doc.pdf"):
        with pytest.raises(DocumentError) as info:
            image_page_count(tmp_path / name)
        assert info.value.kind == "not-a-document"

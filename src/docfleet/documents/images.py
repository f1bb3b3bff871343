"""Decode image documents (PNG, JPEG, TIFF, BMP, WebP, GIF) to upright 8-bit RGB pages, safely.

The size an image declares is checked before its pixels are decoded: a decompression bomb (a
small file declaring billions of pixels) is refused, and an image above the pixel cap is
decoded at reduced size where the format allows it (JPEG) and scaled down to fit. PIL's global
settings are never changed; its warnings are silenced only around its own calls.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docfleet.documents.pdf.errors import DocumentError
from docfleet.documents.pdf.render import DEFAULT_MAX_PIXELS
from docfleet.io.inputs import sniff

if TYPE_CHECKING:
    import numpy as np

BOMB_FACTOR = 20  # an image declaring more than this many times max_pixels is refused
MULTI_PAGE_FORMATS = ("TIFF", "GIF", "WEBP")  # every frame is a page
_PIL_FORMATS = {
    "png": ["PNG"],
    "jpeg": ["JPEG", "MPO"],
    "tiff": ["TIFF"],
    "bmp": ["BMP", "DIB"],
    "webp": ["WEBP"],
    "gif": ["GIF"],
}
_DEFAULT_DPI = 72.0
# catch_warnings() swaps the process-wide filter list until Python 3.14; two threads inside it
# at once could restore each other's state and leave warnings silenced for good. So parsing and
# decoding an image is serialised within a process (processes, the default workers, are not).
_PIL_WARNINGS_LOCK = (
    threading.Lock()
)  # the resolution PDF and PIL assume for an image that states none


@dataclass
class ImagePageData:
    """One decoded image page: RGB pixels, whether they were scaled down, and their dpi."""

    image: np.ndarray
    downscaled: bool
    dpi: float


@contextmanager
def _open(path: str | Path) -> Iterator[Any]:
    """Open an image with PIL, only as the format its bytes announce, mapping PIL's errors."""
    from PIL import Image, UnidentifiedImageError

    kind = sniff(path)
    if kind is None or kind == "pdf":
        raise DocumentError("not-a-document", f"{path}: not a PNG, JPEG, TIFF, BMP, WebP or GIF")
    with _PIL_WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL's bomb and metadata warnings: checked here instead
        try:
            with Image.open(path, formats=_PIL_FORMATS[kind]) as image:
                yield image
        except Image.DecompressionBombError as exc:
            raise DocumentError(
                "decompression-bomb", f"{path}: refused as a decompression bomb ({exc})"
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DocumentError(
                "unreadable", f"{path}: the {kind.upper()} image is damaged or truncated ({exc})"
            ) from None


def image_page_count(path: str | Path) -> int:
    """Pages in an image file: every frame of a TIFF, GIF or WebP, else 1."""
    with _open(path) as image:
        if image.format in MULTI_PAGE_FORMATS:
            return max(1, int(getattr(image, "n_frames", 1)))
        return 1


def load_image_page(
    path: str | Path,
    page: int = 1,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_source_pixels: int | None = None,
) -> tuple[np.ndarray, bool]:
    """Decode a 1-based page (frame) as upright RGB ``uint8`` (H, W, 3); True if scaled down.

    An image declaring more than ``max_source_pixels`` (default ``20 * max_pixels``) raises
    ``DocumentError("decompression-bomb")`` before any pixel is decoded.
    """
    data = read_image_page(path, page, max_pixels=max_pixels, max_source_pixels=max_source_pixels)
    return data.image, data.downscaled


def read_image_page(
    path: str | Path,
    page: int = 1,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_source_pixels: int | None = None,
) -> ImagePageData:
    """As ``load_image_page``, also giving the page's dpi (stated, or 72, times any downscale)."""
    from PIL import ImageOps

    limit = max_source_pixels if max_source_pixels is not None else BOMB_FACTOR * max_pixels
    with _open(path) as image:
        frames = getattr(image, "n_frames", 1) if image.format in MULTI_PAGE_FORMATS else 1
        if not 1 <= page <= frames:
            raise IndexError(f"{path} has {frames} pages; page {page} does not exist")
        if page > 1:
            image.seek(page - 1)
        width, height = image.size
        if width * height > limit:
            raise DocumentError(
                "decompression-bomb",
                f"{path}: page {page} declares {width}x{height} pixels "
                f"({width * height / 1e6:.0f} MP), more than the {limit / 1e6:.0f} MP allowed; "
                "refused as a decompression bomb (raise max_pixels if it is genuine)",
            )
        downscaled = width * height > max_pixels
        if downscaled and image.format == "JPEG":
            factor = math.sqrt(max_pixels / (width * height))
            image.draft(image.mode, (math.ceil(width * factor), math.ceil(height * factor)))
        stated = _stated_dpi(image.info.get("dpi"))
        image.load()
        rgb = _to_rgb(ImageOps.exif_transpose(image))
    if rgb.width * rgb.height > max_pixels:
        factor = math.sqrt(max_pixels / (rgb.width * rgb.height))
        box = (max(1, math.floor(rgb.width * factor)), max(1, math.floor(rgb.height * factor)))
        rgb.thumbnail(box, reducing_gap=2.0)
    dpi = stated * math.sqrt(rgb.width * rgb.height / (width * height))
    return ImagePageData(_array(rgb), downscaled, dpi)


def _stated_dpi(value: Any) -> float:
    try:
        dpi = float(value[0])
    except (TypeError, ValueError, IndexError):
        return _DEFAULT_DPI
    # PNG stores pixels per metre: 300 dpi comes back as 299.9994
    return round(dpi, 1) if 10.0 <= dpi <= 100_000.0 else _DEFAULT_DPI  # TIFFs may say 1


def _to_rgb(image: Any) -> Any:
    """Any PIL mode as 8-bit RGB: 16-bit and float scaled (not clipped), alpha over white."""
    import numpy as np
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image).astype(np.float64)
        top = float(values.max()) if values.size else 0.0
        if mode.startswith("I;16") or top > 255.0:
            values = values * (255.0 / 65535.0) if top <= 65535.0 else values * (255.0 / top)
        elif mode == "F" and top <= 1.0:
            values = values * 255.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _array(image: Any) -> np.ndarray:
    import numpy as np

    array = np.asarray(image, dtype=np.uint8)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, dtype=np.uint8, order="C")
    return array

"""Open PDFs and render their pages to RGB pixels with PDFium, one call at a time.

PDFium is not thread-safe: no two of its calls may run at once in a process, not even on
different documents. Every PDFium call in docfleet holds ``PDFIUM_LOCK``; pypdfium2 objects are
closed explicitly under it, never left to the garbage collector (which may run on any thread).
"""

from __future__ import annotations

import atexit
import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docfleet.documents.pdf.errors import DocumentError, encrypted_error
from docfleet.page.types import TextLine

if TYPE_CHECKING:
    import numpy as np

PDFIUM_LOCK = threading.RLock()
DEFAULT_DPI = 150.0
DEFAULT_MAX_PIXELS = 40_000_000  # about A0 at 150 dpi, or A4 at 600 dpi; 120 MB of RGB
POINTS_PER_INCH = 72.0
CACHED_DOCUMENTS = 4  # open documents kept per process: reopening a 2,000-page PDF costs ~14 ms

_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # guarded by PDFIUM_LOCK
_NUDGE = 1 - 1e-9  # keeps float error (792 * 150 / 72 = 1650.0000000000002) out of ceil()
_atexit_registered = False
_in_use: dict[tuple[Any, ...], int] = {}  # documents a caller (on this thread) is inside of


@dataclass
class PdfPageData:
    """What one read of a PDF page produced: pixels and/or text lines, and the page's size."""

    width: int  # pixels at ``dpi``
    height: int
    dpi: float  # effective: lower than asked when the pixel cap applied
    downscaled: bool
    image: np.ndarray | None = None
    text_lines: list[TextLine] | None = None
    image_cover: float | None = None  # share of the page images cover, read when text is short
    rulings: int | None = None  # thin strokes and frames drawn, read with the text layer


def _encode_path(path: Path) -> bytes:
    if sys.platform.startswith("win"):
        return str(path).encode("utf-8") + b"\x00"
    return os.fsencode(path) + b"\x00"


def _open_new(path: Path, password: str | None) -> Any:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    secret = None if password is None else password.encode("utf-8") + b"\x00"
    raw = pdfium_c.FPDF_LoadDocument(_encode_path(path), secret)
    if not raw:
        code = pdfium_c.FPDF_GetLastError()
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise encrypted_error(path, wrong_password=bool(password))
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise DocumentError(
                "encrypted", f"{path}: the PDF uses an encryption scheme PDFium cannot open"
            )
        if code == pdfium_c.FPDF_ERR_FILE:
            raise DocumentError("unreadable", f"{path}: the file could not be opened or read")
        raise DocumentError(
            "unreadable", f"{path}: the PDF is damaged (corrupt or truncated) and cannot be read"
        )
    pdf = pdfium.PdfDocument(raw)
    _close_at_exit()
    try:
        pdf.init_forms()  # before any page is loaded, so that form fields are drawn
        if len(pdf) < 1:
            raise DocumentError("empty", f"{path}: the PDF has no pages")
    except BaseException:
        pdf.close()
        raise
    return pdf


def _close_at_exit() -> None:
    """Close cached documents at exit, before pypdfium2 (imported earlier) destroys PDFium."""
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(close_cached_documents)
        _atexit_registered = True


@contextmanager
def open_pdf(path: str | Path, password: str | None = None) -> Iterator[Any]:
    """Hold ``PDFIUM_LOCK`` and yield the open ``pypdfium2.PdfDocument`` (from a small cache)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise DocumentError("unreadable", f"{path}: {exc.strerror or exc}") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, stat.st_ino, password)
    with PDFIUM_LOCK:
        pdf = _cache.pop(key, None)
        if pdf is None:
            pdf = _open_new(path, password)
        _cache[key] = pdf
        _in_use[key] = _in_use.get(key, 0) + 1  # never evicted while a caller is inside
        idle = [k for k in _cache if k not in _in_use]
        for old in idle[: max(0, len(_cache) - CACHED_DOCUMENTS)]:
            _cache.pop(old).close()
        try:
            yield pdf
        finally:
            _in_use[key] -= 1
            if not _in_use[key]:
                del _in_use[key]


def close_cached_documents() -> None:
    """Close the documents this process keeps open (a worker calls it when it ends)."""
    with PDFIUM_LOCK:
        while _cache:
            _cache.popitem()[1].close()


def pdf_page_count(path: str | Path, password: str | None = None) -> int:
    """Number of pages in a PDF; raises ``DocumentError`` when it cannot be opened.

    Kinds: ``encrypted`` (password missing or wrong), ``unreadable`` (corrupt, truncated, not a
    PDF), ``empty`` (no pages).
    """
    with open_pdf(path, password) as pdf:
        return len(pdf)


def page_pixels(points: float, scale: float) -> int:
    """Pixels a page side of ``points`` spans at ``scale``, as rendered (792 pt at 150 dpi: 1650).

    >>> page_pixels(792, 150 / 72), math.ceil(792 * (150 / 72))
    (1650, 1651)
    """
    return max(1, math.ceil(points * scale * _NUDGE))


def render_scale(
    width_pt: float, height_pt: float, dpi: float, max_pixels: int
) -> tuple[float, bool]:
    """The scale (pixels per point) to render at ``dpi`` within ``max_pixels``; True if lowered.

    >>> render_scale(612, 792, 72, 10_000_000)
    (1.0, False)
    >>> scale, lowered = render_scale(14400, 14400, 150, 1_000_000)
    >>> lowered, page_pixels(14400, scale) ** 2 <= 1_000_000
    (True, True)
    """
    if dpi <= 0 or max_pixels < 1:
        raise ValueError(f"dpi and max_pixels must be positive, not {dpi} and {max_pixels}")
    scale = dpi / POINTS_PER_INCH

    def pixels(s: float) -> int:
        return page_pixels(width_pt, s) * page_pixels(height_pt, s)

    if pixels(scale) <= max_pixels:
        return scale, False
    scale = math.sqrt(max_pixels / (width_pt * height_pt))
    while pixels(scale) > max_pixels and scale > 1e-6:
        scale *= 0.999  # ceil() may push the rounded size just over the cap
    return scale, True


def _load_page(pdf: Any, path: Path, page: int) -> Any:
    from pypdfium2 import PdfiumError

    if not 1 <= page <= len(pdf):
        raise IndexError(f"{path} has {len(pdf)} pages; page {page} does not exist")
    try:
        return pdf[page - 1]
    except PdfiumError as exc:
        raise DocumentError("render-failed", f"{path}: page {page} is damaged ({exc})") from None


def _render(
    pdf_page: Any, path: Path, page: int, scale: float, crop: tuple[float, ...] = (0, 0, 0, 0)
) -> np.ndarray:
    """The page (less ``crop``: points cut from its left, bottom, right and top) in RGB."""
    try:
        bitmap = pdf_page.render(
            scale=scale * _NUDGE,  # pypdfium2 sizes the bitmap as ceil(points * scale)
            crop=crop,
            may_draw_forms=True,
            fill_color=(255, 255, 255, 255),
            rev_byteorder=True,  # RGB rather than BGR
        )
    except MemoryError:
        raise DocumentError(
            "page-too-large",
            f"{path}: page {page} does not fit in memory at this size; lower --dpi or --max-pixels",
        ) from None
    except Exception as exc:
        raise DocumentError(
            "render-failed", f"{path}: page {page} failed to render ({exc})"
        ) from None
    try:
        image = bitmap.to_numpy()  # a view of a Python-owned buffer, valid after close()
    finally:
        bitmap.close()
    if image.ndim != 3 or image.shape[2] != 3:
        raise DocumentError("render-failed", f"{path}: page {page} rendered as {image.shape}")
    return image


def read_pdf_page(
    path: str | Path,
    page: int,
    *,
    dpi: float = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    password: str | None = None,
    want_image: bool = True,
    want_text: bool = False,
) -> PdfPageData:
    """Render a 1-based page and/or read its text layer, opening the document once."""
    from docfleet.documents.pdf.graphics import ruling_count
    from docfleet.documents.pdf.quality import MIN_TEXT_CHARS, image_cover
    from docfleet.documents.pdf.text import page_text_lines

    path = Path(path)
    with open_pdf(path, password) as pdf:
        pdf_page = _load_page(pdf, path, page)
        try:
            width_pt, height_pt = pdf_page.get_size()  # rotation applied, as rendered
            if not (width_pt > 0 and height_pt > 0 and math.isfinite(width_pt * height_pt)):
                raise DocumentError(
                    "page-too-large",
                    f"{path}: page {page} has an invalid size {width_pt}x{height_pt}",
                )
            scale, downscaled = render_scale(width_pt, height_pt, dpi, max_pixels)
            width, height = page_pixels(width_pt, scale), page_pixels(height_pt, scale)
            image = _render(pdf_page, path, page, scale) if want_image else None
            lines = page_text_lines(pdf_page, scale) if want_text else None
            short = lines is not None and sum(len(ln.text) for ln in lines) < 2 * MIN_TEXT_CHARS
            cover = image_cover(pdf_page) if short else None
            rulings = ruling_count(pdf_page) if lines else None
        finally:
            pdf_page.close()
    if image is not None:
        height, width = image.shape[:2]
    effective_dpi = scale * POINTS_PER_INCH if downscaled else float(dpi)
    return PdfPageData(width, height, effective_dpi, downscaled, image, lines, cover, rulings)


def render_pdf_page(
    path: str | Path,
    page: int,
    *,
    dpi: float = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    password: str | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Render a 1-based page to RGB ``uint8`` (H, W, 3) on white; return it, its dpi, downscaled.

    When the page at ``dpi`` would exceed ``max_pixels`` (a poster, a corrupt MediaBox), it is
    rendered at the lower resolution that fits, the returned dpi says which, and downscaled is
    True; a page never takes more than ``3 * max_pixels`` bytes.
    """
    data = read_pdf_page(path, page, dpi=dpi, max_pixels=max_pixels, password=password)
    assert data.image is not None
    return data.image, data.dpi, data.downscaled


def render_pdf_region(
    path: str | Path,
    page: int,
    box: tuple[int, int, int, int],
    dpi: float,
    password: str | None = None,
) -> np.ndarray:
    """Render the part ``box`` (``x0, y0, x1, y1`` in pixels at ``dpi``, top-left origin) of a
    1-based page to RGB ``uint8`` on white: a display formula of a text-layer page, whose page
    was read without its pixels."""
    path = Path(path)
    scale = dpi / POINTS_PER_INCH
    with open_pdf(path, password) as pdf:
        pdf_page = _load_page(pdf, path, page)
        try:
            width, height = pdf_page.get_size()
            x0, y0, x1, y1 = box
            crop = (x0 / scale, height - y1 / scale, width - x1 / scale, y0 / scale)
            return _render(pdf_page, path, page, scale, tuple(max(0.0, c) for c in crop))
        finally:
            pdf_page.close()


def pdf_text_lines(
    path: str | Path, page: int, *, dpi: float = DEFAULT_DPI, password: str | None = None
) -> list[TextLine]:
    """The text layer of a 1-based page as lines, boxes in pixels at ``dpi`` (top-left origin).

    An empty list when the page has no text layer (a scan). No pixel cap applies: boxes are
    numbers, so they stay exact at any dpi.
    """
    data = read_pdf_page(
        path,
        page,
        dpi=dpi,
        max_pixels=sys.maxsize,
        password=password,
        want_image=False,
        want_text=True,
    )
    return data.text_lines or []

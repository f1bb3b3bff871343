"""Small real documents built in tests: text PDFs, scans, images in every mode, broken files.

Text PDFs come from reportlab (standard fonts, known positions); odd PDFs (no pages, a huge
MediaBox, rotated or cropped pages, unmapped glyphs, a page slow to render) are written by hand
with ``raw_pdf``; images come from PIL, or from ``png_bytes`` where PIL cannot write them.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

LETTER = (612.0, 792.0)


@dataclass(frozen=True)
class Span:
    """A string drawn at a baseline origin (PDF points, bottom-left origin) in a standard font."""

    text: str
    x: float
    y: float
    font: str = "Helvetica"
    size: float = 11.0

    @property
    def width(self) -> float:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return stringWidth(self.text, self.font, self.size)


def reportlab_pdf(
    path: Path,
    pages: list[list[Span]],
    *,
    pagesize: tuple[float, float] = LETTER,
    encrypt: str | None = None,
) -> Path:
    """A PDF with one page per list of spans, drawn in order; ``encrypt`` sets a user password."""
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    security = None
    if encrypt is not None:
        security = pdfencrypt.StandardEncryption(encrypt, ownerPassword="owner-" + encrypt)
    cv = canvas.Canvas(str(path), pagesize=pagesize, encrypt=security)
    for spans in pages:
        for span in spans:
            cv.setFont(span.font, span.size)
            cv.drawString(span.x, span.y, span.text)
        cv.showPage()
    cv.save()
    return path


def one_column_page() -> list[Span]:
    """A title, a subtitle and body text in three fonts and sizes."""
    body = [
        "Document analysis turns pages into structured text.",
        "Each line here has a known origin and font size,",
        "so its box can be checked against the renderer.",
        "Numbers too: 3.14159, 2,718 and 42% of $1,000.",
    ]
    spans = [
        Span("Annual Report 2024", 72, 700, "Helvetica-Bold", 20),
        Span("Results and outlook", 72, 670, "Times-Italic", 14),
    ]
    spans += [Span(t, 72, 640 - 15 * i, "Times-Roman", 11) for i, t in enumerate(body)]
    spans.append(Span("Courier for code: x = f(y)", 72, 560, "Courier", 9))
    return spans


def two_column_page(*, row_order: bool = False) -> list[Span]:
    """Two columns of five lines; drawn column by column, or row by row across both columns."""
    left = [Span(f"Left column line {i} text", 72, 700 - 14 * i, "Helvetica", 10) for i in range(5)]
    right = [
        Span(f"Right column line {i} text", 320, 700 - 14 * i, "Helvetica", 10) for i in range(5)
    ]
    if row_order:
        return [span for pair in zip(left, right, strict=True) for span in pair]
    return left + right


def table_page() -> list[Span]:
    """A 4x3 table drawn row by row (header in bold), cells far enough apart to be separate."""
    rows = [("Item", "Qty", "Price"), ("Apples", "12", "3.40"), ("Pears", "7", "2.10")]
    rows.append(("Plums", "30", "9.99"))
    spans = []
    for r, row in enumerate(rows):
        font = "Helvetica-Bold" if r == 0 else "Helvetica"
        for c, cell in enumerate(row):
            spans.append(Span(cell, 100 + 150 * c, 600 - 24 * r, font, 12))
    return spans


def form_pdf(path: Path, value: str = "FILLED IN") -> Path:
    """A page whose only ink is a filled-in form field (drawn only when forms are rendered)."""
    from reportlab.pdfgen import canvas

    cv = canvas.Canvas(str(path), pagesize=LETTER)
    cv.acroForm.textfield(
        name="name",
        value=value,
        x=72,
        y=600,
        width=300,
        height=40,
        fontSize=24,
        borderWidth=0,
        fillColor=None,
    )
    cv.showPage()
    cv.save()
    return path


def scanned_pdf(path: Path, text: str = "SCANNED PAGE NO TEXT LAYER") -> Path:
    """An image-only PDF page, as a scanner makes: pixels with text in them, no text layer."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    for i in range(10):
        draw.text((80, 100 + 60 * i), f"{text} {i}", fill="black", font_size=28)
    cv = canvas.Canvas(str(path), pagesize=LETTER)
    cv.drawImage(ImageReader(image), 0, 0, *LETTER)
    cv.showPage()
    cv.save()
    return path


def short_text_pdf(path: Path, text: str = "Chapter 3", *, over_scan: bool = False) -> Path:
    """A page whose text layer holds a few words: alone (a chapter opening), or stamped on a
    full-page scan (a stray text object)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    cv = canvas.Canvas(str(path), pagesize=LETTER)
    if over_scan:
        image = Image.new("RGB", (850, 1100), "white")
        ImageDraw.Draw(image).text((80, 300), "Scanned words in pixels", fill="black")
        cv.drawImage(ImageReader(image), 0, 0, *LETTER)
    cv.setFont("Helvetica-Bold", 24)
    cv.drawString(72, 700, text)
    cv.showPage()
    cv.save()
    return path


def raw_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF of the given objects (numbered from 1; object 1 is the catalog) with a valid xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def stream(data: bytes, *, compress: bool = False, extra: bytes = b"") -> bytes:
    """A PDF stream object body, Flate-compressed when asked."""
    if compress:
        data = zlib.compress(data, 9)
        extra += b"/Filter/FlateDecode"
    return b"<</Length %d%s>>stream\n" % (len(data), extra) + data + b"\nendstream"


def one_page_pdf(
    path: Path,
    content: bytes,
    *,
    mediabox: tuple[float, float, float, float] = (0, 0, *LETTER),
    cropbox: tuple[float, float, float, float] | None = None,
    rotate: int = 0,
    font: bytes = b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    extra_objects: list[bytes] | None = None,
    compress: bool = False,
) -> Path:
    """A one-page PDF with the given content stream; font /F1 is object 5."""
    box = b"[%s]" % b" ".join(b"%g" % v for v in mediabox)
    page = b"<</Type/Page/Parent 2 0 R/MediaBox%s" % box
    if cropbox is not None:
        page += b"/CropBox[%s]" % b" ".join(b"%g" % v for v in cropbox)
    page += b"/Rotate %d/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>" % rotate
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        page,
        stream(content, compress=compress),
        font,
        *(extra_objects or []),
    ]
    return raw_pdf(path, objects)


def empty_pdf(path: Path) -> Path:
    """A valid PDF whose page tree is empty (``/Kids []``)."""
    return raw_pdf(path, [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"])


def huge_page_pdf(path: Path, side: float = 14400.0) -> Path:
    """A page ``side`` points square (14,400 pt = 200 in: 900 MP at 150 dpi), a black square in
    its top-left quarter so the downscaled render can be checked."""
    half = side / 2
    content = b"0 g %g %g %g %g re f" % (0, half, half, half)
    return one_page_pdf(path, content, mediabox=(0, 0, side, side))


def control_code_text_pdf(path: Path) -> Path:
    """A text layer of control codes: a font encoding with no Unicode meaning (garbage)."""
    codes = b"".join(b"\\%03o" % c for c in (1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17, 18, 19, 20))
    line = b"BT /F1 12 Tf 72 %d Td (" + codes * 3 + b") Tj ET\n"
    return one_page_pdf(path, b"".join(line % (700 - 20 * i) for i in range(5)))


def private_use_text_pdf(path: Path) -> Path:
    """A text layer whose ToUnicode map sends every letter to the private-use area (garbage)."""
    cmap = (
        b"/CIDInit/ProcSet findresource begin 12 dict begin begincmap /CMapName/X def "
        b"1 begincodespacerange <00> <FF> endcodespacerange "
        b"1 beginbfrange <20> <7E> <E020> endbfrange endcmap CMapName currentdict /CMap "
        b"defineresource pop end end"
    )
    font = b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica/ToUnicode 6 0 R>>"
    line = b"BT /F1 12 Tf 72 %d Td (Quarterly figures were strong) Tj ET\n"
    content = b"".join(line % (700 - 20 * i) for i in range(5))
    return one_page_pdf(path, content, font=font, extra_objects=[stream(cmap)])


def slow_render_pdf(path: Path, segments: int = 200_000) -> Path:
    """A 5 KB file whose one page takes seconds to render: one stroked path of ``segments``
    page-crossing line segments, Flate-compressed. Render time grows linearly with
    ``segments``: 200,000 took 6.7 s at 150 dpi (3.5 s for 100,000) on a 2-core x86 machine,
    one thread; opening the document and counting its pages stays instant."""
    content = b"0.1 w 10 10 m " + b"600 780 l 10 11 l " * (segments // 2) + b"S"
    return one_page_pdf(path, content, compress=True)


def png_bytes(
    width: int, height: int, pixels: bytes, *, bit_depth: int = 8, color: int = 2
) -> bytes:
    """A PNG written by hand (any bit depth and colour type PIL cannot write, or any declared
    size: ``pixels`` is the raw scanline data, filter bytes included, and may be short)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A ~100-byte PNG declaring ``width`` x ``height`` pixels (10 gigapixels by default)."""
    path.write_bytes(png_bytes(width, height, b"\x00" * 64, bit_depth=1, color=0))
    return path


def rgb16_png(path: Path, rgb: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG of a (H, W, 3) uint16 array."""
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].astype(">u2").tobytes() for y in range(height))
    path.write_bytes(png_bytes(width, height, rows, bit_depth=16, color=2))
    return path


def exif_rotated_jpeg(path: Path) -> Image.Image:
    """A JPEG stored sideways with EXIF orientation 6 (rotate 90 degrees clockwise to view);
    returns the upright image: 200x100, red left half, blue right half."""
    upright = Image.new("RGB", (200, 100), (0, 0, 255))
    upright.paste((255, 0, 0), (0, 0, 100, 100))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return upright


def multi_frame(path: Path, colors: list[tuple[int, int, int]], fmt: str = "TIFF") -> Path:
    """A multi-page TIFF, GIF or WebP: one solid 32x24 frame per colour."""
    frames = [Image.new("RGB", (32, 24), color) for color in colors]
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], lossless=True)
    return path


def image_bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    """An image encoded in memory."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def truncated(source: Path, target: Path, keep: int | float) -> Path:
    """``target`` holds the first ``keep`` bytes (an int) or share (a float) of ``source``."""
    data = source.read_bytes()
    count = keep if isinstance(keep, int) else int(len(data) * keep)
    target.write_bytes(data[:count])
    return target


def invoice_scans(folder: Path) -> Path:
    """A folder with a 3-page PDF, two images of different sizes and a file that is not one."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = [[Span(f"Invoice {n} total {n * 7}", 72, 700, size=24)] for n in range(1, 4)]
    reportlab_pdf(folder / "a.pdf", pages)
    (folder / "b.png").write_bytes(image_bytes(Image.new("RGB", (120, 80), "navy"), "PNG"))
    (folder / "c.jpg").write_bytes(image_bytes(Image.new("RGB", (40, 90), "orange"), "JPEG"))
    (folder / "d.png").write_bytes(b"this is not a png")
    return folder

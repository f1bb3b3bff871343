"""Benchmark corpus: scanned-looking image-only PDFs and born-digital PDFs with known text.

    python benchmarks/corpus.py OUT_DIR [--scanned-docs 10] [--pages-per-doc 4] [--digital-docs 10]

Writes ``OUT_DIR/scanned/scan-NNN.pdf`` (pages rendered at 200 dpi with noise, a slight tilt
and JPEG compression, no text layer), ``OUT_DIR/digital/digital-NNN.pdf`` (text layer), and
``OUT_DIR/truth.jsonl`` with the exact text of every page, one JSON object per line:
``{"set": "scanned", "document": "scan-000.pdf", "page": 1, "text": "..."}``. File names are
unique across sets. ``OUT_DIR/corpus.json`` records the parameters. Everything is generated
from a fixed word list and a seeded RNG, so the same arguments give the same files.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from common.corpora import write_jsonl
from common.machine import print_machine
from PIL import Image
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

_WORD_TEXT = """
about above account across action activity actually address administration after again against
agency agreement air all already also although always among amount analysis and another answer
any approach area argument around article artist attention audience available average away
balance based because become before began behind believe benefit between beyond board body
budget building business buyer capital career carry central century certain chance change
character choice church citizen city civil clear college committee common community company
compare concern condition conference consider contain continue control cost country county
course court cover create cultural current customer data debate decade decision defense degree
department describe design detail develop difference direction discover discussion district
document during early economic edge education effect effort election element energy enjoy
enough environment evening evidence exactly example executive experience expert explain factor
family federal figure final financial floor focus follow force foreign former forward founder
freedom friend future general generation government ground growth guess happen health history
however hundred identify image impact improve include increase indicate industry information
inside interest interview investment issue itself journal judge justice knowledge language
large later leader letter level likely listen local machine magazine maintain major manager
market material matter measure medical meeting member memory method middle million minute model
modern moment money month morning mother movement natural nature nearly network never notice
number object office official often operation opportunity option order organization outside
owner painting paper particular partner pattern people perform period person physical picture
place plan player policy political popular position positive possible power practice prepare
present president pressure pretty private probably problem process produce product professor
program project property protect provide public purpose quality question quickly quite range
rather reach reason receive recent record reduce region remain report represent require
research resource response result return reveal review right river role rule sample scene
school science season second section security senior series serious service several shake
share short should similar simple single situation skill small social society source south
space speech spring staff stage standard statement station strategy street structure student
study subject success suggest summer support surface system table teacher technology tell
theory these thing third though thousand through throughout today together toward trade
traditional training travel treatment trial trouble truth type under understand union unit
until value various version victim view visit voice volume watch water weight western whether
which while white whole window within without woman worker world would writer yard year young
"""
WORDS = _WORD_TEXT.split()
# Short function words, drawn often so the prose has English rhythm.
SMALL_WORDS = ("a", "an", "the", "of", "to", "in", "on", "for", "with", "by", "at", "from",
               "as", "is", "was", "are", "be", "it", "that", "this", "or")  # fmt: skip

FONTS = (
    ("Helvetica", "Helvetica-Bold"),
    ("Times-Roman", "Times-Bold"),
    ("Courier", "Courier-Bold"),
)
SIZES = (10, 11, 12, 13, 14)
MARGIN = 72.0
SCAN_DPI = 200
# Fixed dates keep the PDFs byte-for-byte reproducible.
FIXED_DATE = time.gmtime(1_704_067_200)  # 2024-01-01


@dataclass(frozen=True)
class PageStyle:
    font: str
    bold: str
    size: int


def _word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.30:
        return rng.choice(SMALL_WORDS)
    if roll < 0.33:
        low, high = rng.choice(((2, 99), (1900, 2024), (100, 9999)))
        return str(rng.randint(low, high))
    return rng.choice(WORDS)


def sentence(rng: random.Random) -> str:
    """One sentence: 6-16 words, capitalised, with the odd comma, digits and end mark."""
    words = [_word(rng) for _ in range(rng.randint(6, 16))]
    for i in range(1, len(words) - 2):
        if rng.random() < 0.08:
            words[i] += rng.choice((",", ",", ",", ";", ":"))
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(".....?!")


def heading(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 5)))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap by the font's real advance widths."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and stringWidth(candidate, font, size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def draw_page(canvas: Canvas, rng: random.Random, style: PageStyle) -> str:
    """Draw a heading and paragraphs of prose (about 1,500-2,400 characters); return the text."""
    page_w, page_h = LETTER
    width = page_w - 2 * MARGIN
    leading = style.size * 1.35
    y = page_h - MARGIN - style.size - 4
    title = heading(rng)
    canvas.setFont(style.bold, style.size + 4)
    canvas.drawString(MARGIN, y, title)
    y -= 2 * leading
    paragraphs = [title]
    budget = rng.randint(1500, 2400)
    used = len(title)
    while used < budget:
        text = " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
        lines = wrap(text, style.font, style.size, width)
        room = int((y - MARGIN) // leading)
        if room <= 0:
            break
        lines = lines[:room]
        canvas.setFont(style.font, style.size)
        for line in lines:
            canvas.drawString(MARGIN, y, line)
            y -= leading
        y -= leading * 0.6
        paragraphs.append("\n".join(lines))
        used += sum(len(line) + 1 for line in lines)
    canvas.showPage()
    return "\n\n".join(paragraphs)


def style_for(index: int) -> PageStyle:
    """Document ``index``'s font and size: every font and size turns up within five documents."""
    font, bold = FONTS[index % len(FONTS)]
    return PageStyle(font, bold, SIZES[index % len(SIZES)])


def text_pdf(path: Path | None, pages: int, style: PageStyle, seed: int) -> tuple[bytes, list[str]]:
    """A born-digital PDF in one font and size; its bytes and the text of each page."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, invariant=1)
    texts = [draw_page(canvas, rng, style) for _ in range(pages)]
    canvas.save()
    data = buffer.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data, texts


def scan_look(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Gray paper, gray ink, sensor noise and a tilt of at most 0.3 degrees."""
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    paper = rng.uniform(228, 242)
    ink = rng.uniform(20, 45)
    pixels = ink + (paper - ink) * gray + rng.normal(0.0, 7.0, gray.shape)
    scanned = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    angle = float(rng.uniform(-0.3, 0.3))
    return scanned.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=int(paper))


def scanned_pdf(path: Path, pages: int, style: PageStyle, seed: int) -> list[str]:
    """An image-only PDF made by rasterising a text PDF and degrading every page."""
    data, texts = text_pdf(None, pages, style, seed)
    rng = np.random.default_rng(seed)
    document = pdfium.PdfDocument(data)
    images = []
    for page in document:
        bitmap = page.render(scale=SCAN_DPI / 72, grayscale=True)
        images.append(scan_look(bitmap.to_pil(), rng))
        page.close()
    document.close()
    first, *rest = images
    first.save(
        path,
        "PDF",
        save_all=True,
        append_images=rest,
        resolution=SCAN_DPI,
        quality=75,
        creationDate=FIXED_DATE,
        modDate=FIXED_DATE,
    )
    assert_no_text_layer(path)
    return texts


def assert_no_text_layer(path: Path) -> None:
    """Raise if any page of ``path`` has extractable characters."""
    document = pdfium.PdfDocument(path)
    try:
        for index, page in enumerate(document, 1):
            count = page.get_textpage().count_chars()
            if count:
                raise RuntimeError(f"{path} page {index} has a text layer ({count} characters)")
    finally:
        document.close()


def build_corpus(
    out_dir: str | Path,
    *,
    scanned_docs: int = 10,
    pages_per_doc: int = 4,
    digital_docs: int = 10,
    digital_pages_per_doc: int = 10,
    seed: int = 1234,
) -> dict[str, Any]:
    """Write the corpus into ``out_dir`` and return its manifest (also saved as corpus.json).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     info = build_corpus(tmp, scanned_docs=1, pages_per_doc=1, digital_docs=1,
    ...                         digital_pages_per_doc=2)
    >>> info["scanned_pages"], info["digital_pages"]
    (1, 2)
    """
    start = time.perf_counter()
    root = Path(out_dir)
    (root / "scanned").mkdir(parents=True, exist_ok=True)
    (root / "digital").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i in range(scanned_docs):
        name = f"scan-{i:03d}.pdf"
        texts = scanned_pdf(root / "scanned" / name, pages_per_doc, style_for(i), seed + i)
        rows += [
            {"set": "scanned", "document": name, "page": n, "text": t}
            for n, t in enumerate(texts, 1)
        ]
    for i in range(digital_docs):
        name = f"digital-{i:03d}.pdf"
        path = root / "digital" / name
        _, texts = text_pdf(path, digital_pages_per_doc, style_for(i + 1), seed + 10_000 + i)
        rows += [
            {"set": "digital", "document": name, "page": n, "text": t}
            for n, t in enumerate(texts, 1)
        ]
    write_jsonl(root / "truth.jsonl", rows)
    manifest = {
        "root": str(root.resolve()),
        "scanned_dir": str((root / "scanned").resolve()),
        "digital_dir": str((root / "digital").resolve()),
        "truth": str((root / "truth.jsonl").resolve()),
        "scanned_docs": scanned_docs,
        "pages_per_doc": pages_per_doc,
        "scanned_pages": scanned_docs * pages_per_doc,
        "scan_dpi": SCAN_DPI,
        "digital_docs": digital_docs,
        "digital_pages_per_doc": digital_pages_per_doc,
        "digital_pages": digital_docs * digital_pages_per_doc,
        "seed": seed,
    }
    (root / "corpus.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "build_seconds": time.perf_counter() - start}


def load(root: Path, **sizes: int) -> dict[str, Any]:
    """The manifest of the corpus in ``root`` with ``reused``; built there first (``sizes`` as
    ``build_corpus`` takes them) when it has no corpus.json."""
    if (root / "corpus.json").exists():
        return {**json.loads((root / "corpus.json").read_text()), "reused": True}
    return {**build_corpus(root, **sizes), "reused": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--scanned-docs", type=int, default=10, metavar="N")
    parser.add_argument("--pages-per-doc", type=int, default=4, metavar="N")
    parser.add_argument("--digital-docs", type=int, default=10, metavar="N")
    parser.add_argument("--digital-pages-per-doc", type=int, default=10, metavar="N")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    print_machine()
    info = build_corpus(
        args.out_dir,
        scanned_docs=args.scanned_docs,
        pages_per_doc=args.pages_per_doc,
        digital_docs=args.digital_docs,
        digital_pages_per_doc=args.digital_pages_per_doc,
        seed=args.seed,
    )
    print(
        f"{info['scanned_pages']} scanned pages in {info['scanned_docs']} PDFs, "
        f"{info['digital_pages']} born-digital pages in {info['digital_docs']} PDFs, "
        f"truth in {info['truth']} ({info['build_seconds']:.1f} s)"
    )


if __name__ == "__main__":
    main()

"""Scanned corpus from real pages: born-digital PDF pages printed and scanned again, in software.

    python benchmarks/scanned_corpus.py [--out DIR] [--real DIR] [--rebuild]

Source: the pages of benchmarks/real_corpus.py's corpus (cut from PDFs that Debian
documentation packages ship; built into ``--real`` when missing). ``PAGES`` pages with at least
``MIN_WORDS`` words in their text layer and mostly text (see ``figure_share``) are drawn with a
fixed seed, one per document, taking producers (``family`` in the real corpus's manifest) in
turn so that every producer comes up before any comes up twice. Each page is rendered in
grayscale and made to look printed and scanned, twice (see ``Look``): ``EASY`` (200 dpi, a
slight blur, a tint of paper and ink, a tilt of at most 0.6 degrees, sensor noise, JPEG at
quality 70) and ``HARD``, what office scanners give (150-200 dpi, stronger blur, low contrast,
1-2 degrees of skew, dust, JPEG at quality 30-50). Writes into OUT:

    scanned/scan-NN.pdf   image-only PDFs, two pages each, each page the size of the original
    scanned-hard/scan-NN.pdf  the same pages, the hard look
    truth.jsonl           {"document", "page", "source", "text"}: the text is the original
                          page's text layer, ``pdftotext -f N -l N``
    tiny/tiny.pdf         2000 image-only pages of one inch square, four words each (every
                          tenth page blank), drawn with Pillow's default font at 200 dpi
    tiny-truth.jsonl      the tiny pages' text ("" on the blank ones)
    manifest.json         parameters and, per page, where it came from (package, version,
                          path, page number in the original, producer, licence)

Everything is deterministic; a folder already built is reused unless ``--rebuild``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).parent))
import real_corpus
from common.corpora import REAL_CORPUS, SCANNED_CORPUS, Key, Texts, load_truth, write_jsonl
from common.machine import print_machine
from common.textfidelity import pdftotext_page
from corpus import WORDS, assert_no_text_layer

DEFAULT_OUT = SCANNED_CORPUS
DEFAULT_REAL = REAL_CORPUS
SEED = 2024
PAGES = 32
PAGES_PER_PDF = 2
MIN_WORDS = 120  # pdftotext words on the page
MAX_FIGURE_SHARE = 0.4  # of the inked parts of a page, the share with no text in it
DPI = 200


@dataclass(frozen=True)
class Look:
    """How a page is printed and scanned again: each range is drawn per page (``dpi`` and
    ``jpeg`` per PDF), the tilt's sign too."""

    folder: str  # where its PDFs go, beside truth.jsonl
    dpi: tuple[int, ...]  # scan resolutions to choose from
    blur: tuple[float, float]  # Gaussian blur sigma, pixels at 200 dpi
    noise: float  # sensor noise sigma, gray levels
    paper: tuple[float, float]  # paper gray level
    ink: tuple[float, float]  # ink gray level (low contrast: close to the paper's)
    angle: tuple[float, float]  # tilt in degrees, either way
    jpeg: tuple[int, int]  # JPEG quality
    speckle: float  # share of pixels that are dust (dark) or dropouts (light)


#: An office scanner on a good day: the set the OCR speed-ups were first measured on.
EASY = Look("scanned", (200,), (0.6, 0.6), 6.0, (232.0, 246.0), (18.0, 40.0), (0.0, 0.6),
            (70, 70), 0.0)  # fmt: skip
#: What users bring: lower resolution, stronger blur, low contrast, 1-2 degrees of skew,
#: dust, and JPEG at quality 30-50.
HARD = Look("scanned-hard", (150, 175, 200), (0.8, 1.2), 8.0, (205.0, 230.0), (40.0, 80.0),
            (1.0, 2.0), (30, 50), 0.0005)  # fmt: skip
LOOKS = {"easy": EASY, "hard": HARD}
TINY_PAGES = 2000
TINY_BLANK_EVERY = 10  # pages 10, 20, ... are blank
TINY_FONT_PX = 24  # about 8.6 pt at 200 dpi
TINY_MARGIN_PX = 14
FIXED_DATE = time.gmtime(1_704_067_200)  # 2024-01-01: the same PDF bytes on every build


def figure_share(page: pdfium.PdfPage, dpi: float = 50, cell: int = 12) -> float:
    """Of the page's inked cells (``cell`` pixels square), the share with no character in it.

    A plot, a drawing or an image is ink without text; rules and box borders touch text and
    add little, so text pages score under 0.3 and pages that are mostly figures above 0.4.
    """
    scale = dpi / 72
    gray = page.render(scale=scale, grayscale=True).to_numpy()
    gray = gray[..., 0] if gray.ndim == 3 else gray
    height, width = gray.shape
    text = np.zeros(gray.shape, dtype=bool)
    textpage = page.get_textpage()
    for index in range(textpage.count_chars()):
        left, bottom, right, top = textpage.get_charbox(index)
        y0, y1 = max(0, int(height - top * scale)), max(0, int(np.ceil(height - bottom * scale)))
        x0, x1 = max(0, int(left * scale)), max(0, int(np.ceil(right * scale)))
        text[y0:y1, x0:x1] = True
    textpage.close()
    rows, cols = height // cell, width // cell

    def cells(mask: np.ndarray) -> np.ndarray:
        return mask[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell)

    inked = cells(gray < 160).mean(axis=(1, 3)) > 0.02
    has_text = cells(text).any(axis=(1, 3))
    return float((inked & ~has_text).sum() / max(1, inked.sum()))


def candidates(real: Path, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per document of the real corpus, its pages fit to scan, with their text layer."""
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest["files"]:
        path = real / "text" / entry["file"]
        document = pdfium.PdfDocument(path)
        pages = []
        for number in range(1, len(document) + 1):
            text = pdftotext_page(path, number)
            if len(text.split()) < MIN_WORDS:
                continue
            page = document[number - 1]
            share = figure_share(page)
            page.close()
            if share <= MAX_FIGURE_SHARE:
                pages.append({"number": number, "text": text, "figure_share": round(share, 3)})
        document.close()
        if pages:
            out[entry["file"]] = pages
    return out


def choose(docs: dict[str, dict], fit: dict[str, list[dict]], rng: random.Random) -> list[tuple]:
    """``PAGES`` (file, page) picks: one page per document, producers taken in turn."""
    families: dict[str, list[str]] = defaultdict(list)
    for name in sorted(fit):
        families[docs[name]["family"]].append(name)
    order = sorted(families)
    rng.shuffle(order)
    for family in order:
        rng.shuffle(families[family])
    picks: list[tuple] = []
    while len(picks) < PAGES and any(families.values()):
        for family in order:
            if families[family] and len(picks) < PAGES:
                name = families[family].pop()
                picks.append((name, rng.choice(fit[name])))
    if len(picks) < PAGES:
        raise RuntimeError(f"only {len(picks)} documents have a page fit to scan")
    return picks


def scan_look(
    image: Image.Image, rng: np.random.Generator, look: Look = EASY, dpi: int = DPI
) -> tuple[Image.Image, float]:
    """Blur, paper and ink tint, a tilt, noise and dust, as ``look`` draws them for a page
    rendered at ``dpi``; the degraded page and its angle."""
    low, high = look.blur  # (a draw only where there is a range: the easy pages stay as built)
    sigma = (rng.uniform(low, high) if high > low else low) * dpi / DPI
    blurred = image.convert("L").filter(ImageFilter.GaussianBlur(sigma))
    paper, ink = rng.uniform(*look.paper), rng.uniform(*look.ink)
    gray = np.asarray(blurred, dtype=np.float32) / 255.0
    tinted = Image.fromarray(np.clip(ink + (paper - ink) * gray, 0, 255).astype(np.uint8), "L")
    least, most = look.angle
    if least:
        angle = float(rng.uniform(least, most)) * (1 if rng.random() < 0.5 else -1)
    else:
        angle = float(rng.uniform(-most, most))
    tilted = tinted.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=round(paper))
    pixels = np.asarray(tilted, dtype=np.float32) + rng.normal(0.0, look.noise, gray.shape)
    if look.speckle:
        dust = rng.random(gray.shape) < look.speckle
        pixels[dust] = ink
        drop = rng.random(gray.shape) < look.speckle
        pixels[drop] = paper
        spots = np.argwhere(rng.random(gray.shape) < look.speckle / 8)  # larger dust, 2x2 px
        for y, x in spots:
            pixels[y : y + 2, x : x + 2] = ink
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L"), angle


def save_pdf(
    path: Path, images: list[Image.Image], dpi: int = DPI, quality: int = EASY.jpeg[0]
) -> None:
    """Image-only PDF, JPEG pages placed at ``dpi`` (so a page keeps its original size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first, *rest = images
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=dpi,
               quality=quality, creationDate=FIXED_DATE, modDate=FIXED_DATE)  # fmt: skip
    assert_no_text_layer(path)


def build_scanned(out: Path, real: Path, look: Look = EASY) -> dict[str, Any]:
    """Draw, render and degrade the pages; write ``look.folder``/ (and truth.jsonl for the easy
    look: the pages and their names are the same in every look); return the manifest."""
    manifest, _ = real_corpus.load(real)
    docs = {entry["file"]: entry for entry in manifest["files"]}
    picks = choose(docs, candidates(real, manifest), random.Random(SEED))
    salt = 0 if look is EASY else 10_000  # the hard pages draw their own degradations
    truth, pages, images = [], [], []
    for index, (name, chosen) in enumerate(picks):
        pdf_rng = random.Random(SEED + salt + index // PAGES_PER_PDF)
        dpi, quality = pdf_rng.choice(look.dpi), pdf_rng.randint(*look.jpeg)
        document = pdfium.PdfDocument(real / "text" / name)
        page = document[chosen["number"] - 1]
        width, height = page.get_size()
        rendered = page.render(scale=dpi / 72, grayscale=True).to_pil()
        page.close()
        document.close()
        image, angle = scan_look(rendered, np.random.default_rng(SEED + salt + index), look, dpi)
        images.append(image)
        target = f"scan-{index // PAGES_PER_PDF:02d}.pdf"
        number = index % PAGES_PER_PDF + 1
        source = f"{name}#{chosen['number']}"
        truth.append({"document": target, "page": number, "source": source,
                      "text": chosen["text"]})  # fmt: skip
        entry = docs[name]
        pages.append({
            "document": target, "page": number, "source": source,
            "package": entry["package"], "version": entry["version"], "path": entry["path"],
            "original_page": entry["pages"][chosen["number"] - 1],
            "family": entry["family"], "producer": entry["producer"],
            "licence": entry.get("licence"), "licence_source": entry.get("licence_source"),
            "size_pt": [round(width, 2), round(height, 2)], "words": len(chosen["text"].split()),
            "figure_share": chosen["figure_share"], "angle": round(angle, 3), "dpi": dpi,
            "jpeg_quality": quality,
        })  # fmt: skip
        if number == PAGES_PER_PDF:
            save_pdf(out / look.folder / target, images, dpi, quality)
            images = []
        print(f"{look.folder}/{target} page {number}: {source}", file=sys.stderr, flush=True)
    if look is EASY:
        write_jsonl(out / "truth.jsonl", truth)
    return {
        "source_corpus": str(real),
        "distribution": manifest.get("distribution"),
        "seed": SEED,
        "pdfs": PAGES // PAGES_PER_PDF,
        "pages": PAGES,
        "min_words": MIN_WORDS,
        "max_figure_share": MAX_FIGURE_SHARE,
        "degradation": {
            "folder": look.folder,
            "dpi": list(look.dpi),
            "blur_sigma_at_200_dpi": list(look.blur),
            "noise_sigma": look.noise,
            "paper": list(look.paper),
            "ink": list(look.ink),
            "angle": list(look.angle),
            "jpeg_quality": list(look.jpeg),
            "speckle": look.speckle,
        },
        "families": len({page["family"] for page in pages}),
        "documents": len({page["source"].split("#")[0] for page in pages}),
        "files": pages,
    }


def tiny_lines(rng: random.Random, font: ImageFont.FreeTypeFont) -> list[str]:
    """Two lines of two words, each line drawn again until it fits the page with its margins."""
    short = [word for word in WORDS if len(word) <= 7]
    lines = []
    while len(lines) < 2:
        line = f"{rng.choice(short)} {rng.choice(short)}"
        if font.getlength(line) <= DPI - 2 * TINY_MARGIN_PX:
            lines.append(line)
    return lines


def build_tiny(out: Path) -> dict[str, Any]:
    """One PDF of ``TINY_PAGES`` one-inch pages: two lines of two words, every tenth blank."""
    rng = random.Random(SEED)
    font = ImageFont.load_default(size=TINY_FONT_PX)
    images, truth = [], []
    for number in range(1, TINY_PAGES + 1):
        image = Image.new("L", (DPI, DPI), 255)
        text = ""
        if number % TINY_BLANK_EVERY:
            lines = tiny_lines(rng, font)
            draw = ImageDraw.Draw(image)
            for row, line in enumerate(lines):
                draw.text((TINY_MARGIN_PX, 50 + row * 56), line, fill=0, font=font)
            text = "\n".join(lines)
        images.append(image)
        truth.append({"document": "tiny.pdf", "page": number, "text": text})
    save_pdf(out / "tiny" / "tiny.pdf", images)
    write_jsonl(out / "tiny-truth.jsonl", truth)
    return {"pdf": "tiny/tiny.pdf", "pages": TINY_PAGES, "blank_every": TINY_BLANK_EVERY,
            "page_inches": 1, "dpi": DPI, "font": f"Pillow default, {TINY_FONT_PX} px"}  # fmt: skip


def build(out: Path = DEFAULT_OUT, real: Path = DEFAULT_REAL, rebuild: bool = False) -> dict:
    """Build what is missing (everything with ``rebuild``) and return the manifest."""
    path = out / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() and not rebuild else {}
    for key, look in (("scanned", EASY), ("scanned_hard", HARD)):
        built = manifest.get(key)
        folder = out / look.folder
        if not built or not all((folder / f["document"]).exists() for f in built["files"]):
            print(f"building the {look.folder} pages into {out} ...", file=sys.stderr, flush=True)
            manifest[key] = build_scanned(out, real, look)
    if not manifest.get("tiny") or not (out / "tiny" / "tiny.pdf").exists():
        print(f"building the tiny pages into {out} ...", file=sys.stderr, flush=True)
        manifest["tiny"] = build_tiny(out)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


@dataclass(frozen=True)
class Corpus:
    """A built scanned corpus: its folder, whether it was there already, manifest, truth, PDFs."""

    root: Path
    reused: bool
    manifest: dict[str, Any]
    truth: Texts
    pdfs: list[Path]

    @property
    def keys(self) -> list[Key]:
        """The truth's pages of ``pdfs``, sorted."""
        names = {pdf.name for pdf in self.pdfs}
        return sorted(key for key in self.truth if key[0] in names)

    def figures(self, quick: bool) -> dict[str, Any]:
        """The ``corpus`` entry of a benchmark's figures."""
        return {"root": str(self.root), "reused": self.reused, "quick": quick,
                "pdfs": len(self.pdfs), "pages": len(self.keys)}  # fmt: skip


def load(root: Path = DEFAULT_OUT, first: int | None = None, look: Look = EASY) -> Corpus:
    """The corpus in ``root`` (built there first when missing) with its first ``first`` PDFs
    of scanned pages in ``look`` (all of them without)."""
    reused = (root / "manifest.json").exists()
    manifest = build(root)
    pdfs = sorted((root / look.folder).glob("*.pdf"))[:first]
    return Corpus(root, reused, manifest, load_truth(root / "truth.jsonl"), pdfs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"corpus folder ({DEFAULT_OUT})")
    parser.add_argument("--real", default=str(DEFAULT_REAL), help="real_corpus.py's folder")
    parser.add_argument("--rebuild", action="store_true", help="build again what exists")
    args = parser.parse_args()
    print_machine()
    start = time.perf_counter()
    manifest = build(Path(args.out), Path(args.real), args.rebuild)
    scanned, tiny = manifest["scanned"], manifest["tiny"]
    print(f"{scanned['pages']} scanned pages from {scanned['documents']} documents of "
          f"{scanned['families']} producers in {scanned['pdfs']} PDFs (easy in scanned/, hard "
          f"in scanned-hard/), {tiny['pages']} tiny pages, in {args.out} "
          f"({time.perf_counter() - start:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()

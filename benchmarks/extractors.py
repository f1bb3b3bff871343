"""The extractors ``accuracy.py`` compares, each giving the text of a list of pages.

Peers read the pages in this process (pdftotext, pypdfium2, PyMuPDF, pdfminer.six, a
hand-written RapidOCR loop); docfleet runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from textfidelity import pdftotext_page

OCR_DPI = 150  # docfleet's default rendering resolution

Key = tuple[str, int]  # (document file name, 1-based page)
Texts = dict[Key, str]


def timed(extract: Callable[[Path, list[Key]], Texts], folder: Path, keys: list[Key]) -> dict:
    start = time.perf_counter()
    texts = extract(folder, keys)
    wall = time.perf_counter() - start
    return {"texts": texts, "wall_s": wall, "pages_per_s": len(keys) / wall}


def each_page(folder: Path, keys: list[Key], read: Callable[[Any], str]) -> Texts:
    """``read(page)`` for every key, each document opened once with PDFium."""
    texts = {}
    for name, group in groupby(keys, key=itemgetter(0)):
        document = pdfium.PdfDocument(folder / name)
        for _, n in group:
            page = document[n - 1]
            texts[name, n] = read(page)
            page.close()
        document.close()
    return texts


def pdftotext_texts(folder: Path, keys: list[Key]) -> Texts:
    return {(name, n): pdftotext_page(folder / name, n) for name, n in keys}


def pypdfium2_texts(folder: Path, keys: list[Key]) -> Texts:
    return each_page(folder, keys, lambda page: page.get_textpage().get_text_range())


def pymupdf_texts(folder: Path, keys: list[Key]) -> Texts:
    import pymupdf

    texts = {}
    for name, group in groupby(keys, key=itemgetter(0)):
        with pymupdf.open(folder / name) as document:
            for _, n in group:
                texts[name, n] = document[n - 1].get_text(sort=True)
    return texts


def pdfminer_texts(folder: Path, keys: list[Key]) -> Texts:
    from pdfminer.high_level import extract_text

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    return {(name, n): extract_text(folder / name, page_numbers=[n - 1]) for name, n in keys}


def rapidocr_texts(folder: Path, keys: list[Key]) -> Texts:
    """A hand-written OCR loop: render at docfleet's default dpi, RapidOCR, lines joined."""
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "warning"})

    def read(page: Any) -> str:
        return "\n".join(engine(page.render(scale=OCR_DPI / 72).to_numpy()).txts or ())

    return each_page(folder, keys, read)


def docfleet_texts(
    folder: Path, out: Path, options: list[str], timeout: float, field: str = "text"
) -> dict:
    """Run ``docfleet run FOLDER`` as a subprocess; its ok pages' ``field`` (the text, or the
    Markdown) and its timings."""
    command = [sys.executable, "-m", "docfleet", "run", str(folder), "-o", str(out), *options]
    shown = "docfleet run " + " ".join(command[4:])
    log = out.with_suffix(".log")
    start = time.perf_counter()
    try:
        with open(log, "w") as fh:
            proc = subprocess.run(command, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "command": shown, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    texts: Texts = {}
    failed = 0
    jsonl = out / "pages.jsonl"
    for raw in jsonl.read_text(encoding="utf-8").splitlines() if jsonl.exists() else ():
        row = json.loads(raw)
        if row.get("status") == "ok" and row.get("page"):
            texts[Path(row["document"]).name, int(row["page"])] = row.get(field) or ""
        else:
            failed += 1
    if not texts:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        return {"ok": False, "command": shown, "error": f"exit code {proc.returncode}: {tail}"}
    fig = {
        "texts": texts,
        "command": shown,
        "returncode": proc.returncode,
        "wall_s": wall,
        "pages_failed": failed,
    }
    if (out / "run.json").exists():
        fig["run_wall_s"] = float(json.loads((out / "run.json").read_text())["wall_seconds"])
    return fig

"""Headings in the Markdown, against the PDFs' own outlines (bookmarks), beside PyMuPDF4LLM.

    python benchmarks/headings.py [--pages-per-doc N] [--cache DIR] [--json PATH] [--markdown]
                                  [--keep] [--no-peer] [--ocr]

The documents are benchmarks/real_corpus.py's sources (Debian documentation packages, cached in
``--cache``) that carry an outline. A heading is *on* a page when the outline points to that page
and its title is in the page's text layer. From each document ``--pages-per-doc`` such pages are
taken, evenly spaced, and cut into one PDF per document; ``docfleet run`` (default settings) and
``pymupdf4llm.to_markdown`` read the same cut pages; with ``--ocr`` also ``docfleet run --ocr
always``, headings from the pixels alone (the layout model's titles). A Markdown heading is a
line starting with ``#``; it matches an outline title when, letters and digits only and
lowercased, one holds the other and the shorter is at least 60% of the longer (a heading with or
without its number; a chapter label before it, "Chapter 8", left out).

Per system: ``recall`` (the outline's headings on the pages found as Markdown headings),
``outline_precision`` (Markdown headings that are outline headings of their page: headings that
an outline leaves out, such as an abstract's title or levels below the outline's depth, count
against it, so it is a lower bound), ``not_headings`` (Markdown headings, not in the outline,
that cannot be headings: ending in a comma or semicolon, starting lowercase, or holding code or
formula signs such as ``<-``, ``=``, ``{``; a count, lower is better), ``level_order`` (of
pairs of matched headings in one document at different outline levels, the share whose
Markdown levels go the same way; equal Markdown levels count half) and ``pages_per_s``.
Headings inside fenced code blocks are not headings.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from itertools import combinations
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from common.corpora import page_id
from common.debian import open_pdf
from common.docfleet_run import run_docfleet
from common.machine import print_machine
from common.pdfcut import cut
from common.report import Column, Table, add_output_options, write_json
from common.timing import in_work_folder
from real_corpus import DEFAULT_CACHE, SOURCES, fetch, output_name

HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$", re.M)
LABEL = re.compile(r"^(?:chapter|part|appendix)\s+\S+\s+(?=\S)", re.I)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
NOT_A_HEADING = re.compile(r"[,;]$|^[a-z]|<-|->|[={}$@]|\\[a-z]")
Key = tuple[str, int]  # (cut file name, 1-based page in it)


def key(text: str) -> str:
    """Letters and digits only, lowercased, Markdown emphasis and escapes dropped."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", "", text)


def same(heading: str, title: str) -> bool:
    if LABEL.match(heading) and not LABEL.match(title):  # "Chapter 8 Algebra" is "Algebra"
        heading = LABEL.sub("", heading)
    a, b = key(heading), key(title)
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return short in long and len(short) >= 0.6 * len(long)


def outline_pages(pdf_path: Path) -> dict[int, list[tuple[str, int]]]:
    """0-based page -> [(title, level)] of the outline entries whose title is in its text."""
    pdf = pdfium.PdfDocument(pdf_path)
    found: dict[int, list[tuple[str, int]]] = {}
    try:
        entries = [
            (e.get_title().strip(), e.level, e.get_dest().get_index() if e.get_dest() else None)
            for e in pdf.get_toc(max_depth=12)
        ]
        texts: dict[int, str] = {}
        for title, level, index in entries:
            if index is None or not key(title) or index >= len(pdf):
                continue
            if index not in texts:
                textpage = pdf[index].get_textpage()
                texts[index] = key(textpage.get_text_range())
                textpage.close()
            if key(title) in texts[index]:
                found.setdefault(index, []).append((title, level))
    finally:
        pdf.close()
    return found


def build(cache: Path, folder: Path, per_doc: int) -> dict[Key, list[tuple[str, int]]]:
    """Cut the chosen pages of every source with an outline into ``folder``; their headings."""
    truth: dict[Key, list[tuple[str, int]]] = {}
    for source in SOURCES:
        pdf = open_pdf(fetch(source.package, cache), source.path)
        pages = sorted(outline_pages(pdf))
        if not pages:
            continue
        step = max(1, len(pages) // per_doc)
        chosen = pages[::step][:per_doc]
        name = output_name(source)
        cut(pdf, [i + 1 for i in chosen], folder / name)
        heads = outline_pages(pdf)
        for number, index in enumerate(chosen, 1):
            truth[name, number] = heads[index]
    return truth


def headings(markdown: str) -> list[tuple[str, int]]:
    """(text, level) of the Markdown's headings, code blocks left out."""
    prose = FENCE.sub("", markdown)
    return [(m.group(2).strip("*_ "), len(m.group(1))) for m in HEADING.finditer(prose)]


def score(truth: dict[Key, list[tuple[str, int]]], markdown: dict[Key, str]) -> dict[str, Any]:
    expected = found = emitted = matched_heads = bad = 0
    pairs: dict[str, list[tuple[int, int]]] = {}  # document -> (outline level, md level)
    misses: list[str] = []
    wrong: list[str] = []
    for page_key, titles in truth.items():
        heads = headings(markdown.get(page_key, ""))
        emitted += len(heads)
        used: set[int] = set()
        for title, level in titles:
            expected += 1
            hit = next((i for i, (h, _) in enumerate(heads) if i not in used and same(h, title)),
                       None)  # fmt: skip
            if hit is None:
                misses.append(f"{page_id(page_key)}: {title}")
                continue
            used.add(hit)
            found += 1
            pairs.setdefault(page_key[0], []).append((level, heads[hit][1]))
        matched_heads += len(used)
        for i, (text, _) in enumerate(heads):
            if i not in used and NOT_A_HEADING.search(text):
                bad += 1
                wrong.append(f"{page_id(page_key)}: {text[:80]}")
    concordant = total = 0.0
    for levels in pairs.values():
        for (oa, ma), (ob, mb) in combinations(levels, 2):
            if oa == ob:
                continue
            total += 1
            concordant += 0.5 if ma == mb else float((oa < ob) == (ma < mb))
    return {
        "outline_headings": expected,
        "recall": found / expected if expected else None,
        "markdown_headings": emitted,
        "outline_precision": matched_heads / emitted if emitted else None,
        "not_headings": bad,
        "level_order": concordant / total if total else None,
        "level_pairs": int(total),
        "missed": misses[:15],
        "not_heading_examples": wrong[:15],
    }


def pymupdf4llm_markdown(folder: Path, keys: list[Key]) -> dict[str, Any]:
    try:
        import pymupdf4llm
    except ImportError as exc:
        return {"ok": False, "error": f"{exc} (pip install pymupdf4llm)"}
    out: dict[Key, str] = {}
    start = time.perf_counter()
    for name in sorted({k[0] for k in keys}):
        numbers = sorted(n for d, n in keys if d == name)
        chunks = pymupdf4llm.to_markdown(
            str(folder / name), pages=[n - 1 for n in numbers], page_chunks=True,
            show_progress=False,
        )  # fmt: skip
        for number, chunk in zip(numbers, chunks, strict=True):
            out[name, number] = chunk["text"]
    return {"ok": True, "markdown": out, "wall_s": time.perf_counter() - start}


def docfleet_markdown(folder: Path, out: Path, options: list[str], timeout: float) -> dict:
    """``docfleet run FOLDER`` as a subprocess; the Markdown of its pages."""
    fig = run_docfleet([folder], out, ["--no-progress", *options], timeout=timeout,
                       field="markdown")  # fmt: skip
    markdown = fig.pop("texts", {})
    return {**fig, "markdown": markdown}


def run_systems(args: argparse.Namespace, folder: Path, keys: list[Key], work: Path) -> dict:
    """Each system's Markdown of the cut pages, one after the other."""
    print("running docfleet ...", file=sys.stderr)
    runs = {"docfleet": docfleet_markdown(folder, work / "docfleet", [], 1800)}
    if args.ocr:
        print("running docfleet --ocr always ...", file=sys.stderr)
        runs["docfleet_ocr"] = docfleet_markdown(
            folder, work / "docfleet-ocr", ["--ocr", "always"], 7200
        )
    if not args.no_peer:
        print("running pymupdf4llm ...", file=sys.stderr)
        runs["pymupdf4llm"] = pymupdf4llm_markdown(folder, keys)
    return runs


def measure(args: argparse.Namespace, machine: dict[str, Any], work: Path) -> dict[str, Any]:
    """Cut the pages, run the systems, score their headings against the outlines."""
    folder = work / "pages"
    print("cutting pages with outline headings ...", file=sys.stderr)
    truth = build(args.cache, folder, args.pages_per_doc)
    keys = sorted(truth)
    runs = run_systems(args, folder, keys, work)
    figures: dict[str, Any] = {
        "machine": machine,
        "documents": len({k[0] for k in keys}),
        "pages": len(keys),
        "headings": sum(len(v) for v in truth.values()),
    }
    for name, run in runs.items():
        if not run.get("ok"):
            figures[name] = {k: v for k, v in run.items() if k != "markdown"}
            continue
        figures[name] = {"ok": True, **score(truth, run["markdown"]),
                         "pages_per_s": len(keys) / run["wall_s"]}  # fmt: skip
    return figures


def report(figures: dict[str, Any], markdown: bool = False) -> None:
    systems = [k for k, v in figures.items() if isinstance(v, dict) and "ok" in v]
    print(f"{figures['documents']} documents, {figures['pages']} pages with outline headings "
          f"({figures['headings']} headings)")  # fmt: skip
    table = Table(Column("system", 13, "<"), Column("recall", 7), Column("precision*", 10),
                  Column("not headings", 13), Column("level order", 12),
                  Column("pages/s", 8))  # fmt: skip
    for name in systems:
        fig = figures[name]
        if not fig.get("ok"):
            table.note(name, f"failed: {fig.get('error')}")
            continue
        table.add(name, f"{fig['recall']:.3f}", f"{fig['outline_precision']:.3f}",
                  str(fig["not_headings"]), f"{fig['level_order'] or 0:.3f}",
                  f"{fig['pages_per_s']:.1f}")  # fmt: skip
    print(table.render(markdown))
    print("* precision against the outline: real headings an outline leaves out count against it")
    for name in systems:
        for line in figures[name].get("not_heading_examples", [])[:8]:
            print(f"  {name} not a heading: {line}")
        for line in figures[name].get("missed", [])[:8]:
            print(f"  {name} missed: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages-per-doc", type=int, default=8)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    add_output_options(parser)
    parser.add_argument("--keep", action="store_true", help="keep the cut pages and outputs")
    parser.add_argument("--no-peer", action="store_true", help="skip PyMuPDF4LLM")
    parser.add_argument("--ocr", action="store_true",
                        help="also docfleet run --ocr always (the pages' pixels only)")  # fmt: skip
    args = parser.parse_args()
    machine = print_machine()
    figures = in_work_folder("docfleet-headings-", args.keep, lambda w: measure(args, machine, w))
    report(figures, args.markdown)
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

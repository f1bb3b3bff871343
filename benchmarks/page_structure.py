"""Page structure on real pages annotated by hand: paragraphs, list items, headings, code blocks
and contents entries, on the text layer and on scans of the same pages.

    python benchmarks/page_structure.py [--cache DIR] [--pages ID ...] [--no-scans] [--no-peer]
                                        [--src DIR] [--show N] [--json PATH] [--markdown] [--keep]

The annotations are ``benchmarks/structure_pages/*.json``: pages of PDFs that Debian
documentation packages ship (package, path, page), each block of the body in reading order by
type and opening words (see that folder's README). The packages are fetched into ``--cache``
as benchmarks/real_corpus.py does, and each page is cut into a PDF of its own. Its scan is the
page rendered at 200 dpi in grayscale and degraded as benchmarks/scanned_corpus.py degrades its
pages (blur, paper and ink tint, tilt, noise, JPEG; drawn with a seed from the page's id, so
a page's scan does not change when pages are added), as an image-only PDF.

Systems: ``docfleet run`` with default settings on the cut pages and on their scans (OCR, the
layout model); ``pymupdf4llm.to_markdown`` on the cut pages when installed. ``--src DIR`` runs
docfleet from another source tree (``DIR/src``), to compare two commits in one run.

Per system and set, micro-averaged over the pages (benchmarks/common/block_scores.py): for
paragraphs, list items, headings and code blocks the precision (blocks made that start where the
page starts one of that type) and recall (the page's blocks found so); contents entries intact
(title and page number on one line) and contents pages with every entry intact; damaged
characters (U+FFFD, lone surrogates, control characters beyond the page's own text). Opening
words are compared at a ratio of 90 on the text layer and 80 on scans (OCR misreads a letter).
Targets: precision and recall of paragraphs, items and headings at least 0.90 on the text layer
and 0.80 on scans, and no damaged character.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import real_corpus
import scanned_corpus
from common.block_scores import SCORED, damaged, markdown_blocks, score_page, totals
from common.debian import open_pdf
from common.docfleet_run import run_docfleet
from common.machine import print_machine
from common.pdfcut import cut
from common.report import Column, Table, add_output_options, fmt, verdict, write_json
from common.textfidelity import pdftotext_page
from common.timing import in_work_folder

ANNOTATIONS = Path(__file__).parent / "structure_pages"
TARGETS = {"text": 0.90, "scan": 0.80}
THRESHOLDS = {"text": 90.0, "scan": 80.0}
FIELDS = {"text": "text", "scan": "printed"}  # a scan is read against what the page shows
TARGET_KINDS = ("paragraph", "item", "heading")


def load_annotations(ids: list[str] | None = None) -> list[dict[str, Any]]:
    pages = [json.loads(p.read_text()) for p in sorted(ANNOTATIONS.glob("*.json"))]
    return [p for p in pages if not ids or p["id"] in ids]


def build_pages(pages: list[dict], cache: Path, work: Path) -> dict[str, str]:
    """Cut each page to ``work/text/ID.pdf`` and scan it to ``work/scan/ID.pdf``; the
    pdftotext of each page by id."""
    (work / "text").mkdir(parents=True)
    (work / "scan").mkdir()
    reference = {}
    for page in pages:
        source = open_pdf(real_corpus.fetch(page["package"], cache), page["path"])
        target = work / "text" / f"{page['id']}.pdf"
        cut(source, [page["page"]], target)
        reference[page["id"]] = pdftotext_page(target, 1)
        document = pdfium.PdfDocument(target)
        rendered = document[0].render(scale=scanned_corpus.DPI / 72, grayscale=True).to_pil()
        document.close()
        rng = np.random.default_rng(scanned_corpus.SEED + zlib.crc32(page["id"].encode()))
        image, _ = scanned_corpus.scan_look(rendered, rng)
        scanned_corpus.save_pdf(work / "scan" / f"{page['id']}.pdf", [image])
    return reference


def docfleet(folder: Path, out: Path, src: Path | None) -> dict[str, Any]:
    env = None
    if src is not None:
        env = {**os.environ, "PYTHONPATH": str(src.resolve() / "src")}
    fig = run_docfleet([folder], out, ["--no-progress"], timeout=3600, field="markdown", env=env)
    fig["markdown"] = {Path(name).stem: md for (name, _), md in fig.pop("texts", {}).items()}
    return fig


def pymupdf4llm(folder: Path) -> dict[str, Any]:
    try:
        import pymupdf4llm as peer
    except ImportError as exc:
        return {"ok": False, "error": f"{exc} (pip install pymupdf4llm)"}
    start = time.perf_counter()
    markdown = {p.stem: peer.to_markdown(str(p), show_progress=False)
                for p in sorted(folder.glob("*.pdf"))}  # fmt: skip
    return {"ok": True, "markdown": markdown, "wall_s": time.perf_counter() - start}


def score(run: dict, pages: list[dict], reference: dict[str, str], kind: str) -> dict[str, Any]:
    if not run.get("ok"):
        return run
    per_page = {}
    for page in pages:
        markdown = run["markdown"].get(page["id"], "")
        blocks = markdown_blocks(markdown)
        scores = score_page(blocks, page["blocks"], markdown, THRESHOLDS[kind], FIELDS[kind])
        scores["damaged"] = damaged(markdown, reference[page["id"]])
        per_page[page["id"]] = scores
    wall = run.get("wall_s")
    return {
        "ok": True,
        "pages_per_s": len(pages) / wall if wall else None,
        **totals(per_page.values()),
        "per_page": per_page,
    }


def checks(figures: dict[str, Any], kind: str) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for what in TARGET_KINDS:
        for measure in ("precision", "recall"):
            value = figures.get(what, {}).get(measure) if figures.get("ok") else None
            out[f"{what}_{measure}"] = None if value is None else value >= TARGETS[kind]
    out["damaged"] = figures.get("damaged") == 0 if figures.get("ok") else None
    return out


def table(results: dict[str, dict], markdown: bool) -> str:
    columns = [Column("system", 22, "<"), Column("set", 4, "<")]
    columns += [Column(f"{k[:4]} P/R", 11) for k in SCORED]
    columns += [Column("toc intact", 10), Column("dmg", 4), Column("pages/s", 8)]
    out = Table(*columns)
    for name, fig in results.items():
        system, kind = name.rsplit("/", 1)
        if not fig.get("ok"):
            out.note(system, kind, fig.get("error", "failed"))
            continue
        cells = [system, kind]
        for k in SCORED:
            p, r = fig[k]["precision"], fig[k]["recall"]
            cells.append(f"{fmt(p, 2)}/{fmt(r, 2)}")
        toc = fig["contents"]
        cells.append(f"{toc['entries_intact']}/{toc['entries']}")
        cells += [str(fig["damaged"]), fmt(fig["pages_per_s"], 2)]
        out.add(*cells)
    return out.render(markdown)


def misses(page: dict, markdown: str, threshold: float, field: str = "text") -> list[str]:
    """What a page's Markdown gets wrong: references not found, blocks made that match none."""
    from common.block_scores import same, texts_of

    blocks, lines = markdown_blocks(markdown), []
    unscored = [t for r in page["blocks"] if r["type"] not in SCORED for t in texts_of(r, field)]
    scored = [(r["type"], texts_of(r, field)[0]) for r in page["blocks"] if r["type"] in SCORED]
    for kind, text in scored:
        if not any(b.type == kind and same(b.text, text, threshold) for b in blocks):
            lines.append(f"  missed {kind}: {text[:60]!r}")
    for block in blocks:
        if (
            block.type in SCORED
            and not any(k == block.type and same(block.text, t, threshold) for k, t in scored)
            and not any(same(block.text, text, threshold) for text in unscored)
        ):
            lines.append(f"  extra  {block.type}: {block.text[:60]!r}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=real_corpus.DEFAULT_CACHE)
    parser.add_argument("--pages", nargs="*", help="only these annotated page ids")
    parser.add_argument("--no-scans", action="store_true", help="the text layer only")
    parser.add_argument("--no-peer", action="store_true", help="leave pymupdf4llm out")
    parser.add_argument("--src", type=Path, action="append", default=[],
                        help="also run docfleet from this source tree (repeatable)")  # fmt: skip
    parser.add_argument("--show", type=int, default=0, help="print the misses of N worst pages")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    add_output_options(parser)
    args = parser.parse_args()
    print_machine()
    pages = load_annotations(args.pages)
    print(f"{len(pages)} annotated pages", file=sys.stderr)

    def measure(work: Path) -> dict[str, Any]:
        reference = build_pages(pages, args.cache, work)
        sets = ["text"] + ([] if args.no_scans else ["scan"])
        trees = [("docfleet", None)] + [(f"docfleet@{s.name}", s) for s in args.src]
        results: dict[str, dict] = {}
        runs: dict[str, dict] = {}
        for label, src in trees:
            for kind in sets:
                print(f"running {label} on {kind} ...", file=sys.stderr, flush=True)
                runs[f"{label}/{kind}"] = docfleet(work / kind, work / f"{label}-{kind}", src)
        if not args.no_peer:
            print("running pymupdf4llm on text ...", file=sys.stderr, flush=True)
            runs["pymupdf4llm/text"] = pymupdf4llm(work / "text")
        for name, run in runs.items():
            results[name] = score(run, pages, reference, name.rsplit("/", 1)[1])
        for name, run in runs.items():
            if args.show and run.get("ok") and name.startswith("docfleet/"):
                kind = name.rsplit("/", 1)[1]
                worst = sorted(pages, key=lambda p: badness(results[name]["per_page"][p["id"]]))
                for page in worst[-args.show :]:
                    print(f"{name} {page['id']}:")
                    markdown = run["markdown"].get(page["id"], "")
                    print("\n".join(misses(page, markdown, THRESHOLDS[kind], FIELDS[kind])))
        return results

    results = in_work_folder("docfleet-structure-", args.keep, measure)
    print(table(results, args.markdown))
    verdicts = {}
    for kind in ("text", "scan"):
        if f"docfleet/{kind}" in results:
            verdicts[kind] = checks(results[f"docfleet/{kind}"], kind)
            print(f"targets on {kind} (>= {TARGETS[kind]}): " + ", ".join(
                f"{k} {verdict(v)}" for k, v in verdicts[kind].items()))  # fmt: skip
    write_json({"pages": [p["id"] for p in pages], "results": results, "targets": verdicts},
               args.json)  # fmt: skip


def badness(scores: dict[str, Any]) -> int:
    """Blocks a page gets wrong: references missed plus blocks made that match none."""
    return sum(s["refs"] + s["made"] - 2 * s["right"] for k, s in scores.items() if k in SCORED)


if __name__ == "__main__":
    main()

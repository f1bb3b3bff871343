"""Text fidelity on real PDFs: docfleet and its peers against poppler's pdftotext, same pages.

    python benchmarks/accuracy.py [--corpus DIR] [--quick] [--ocr-pages N] [--json PATH]
                                  [--markdown] [--keep]

The corpus is benchmarks/real_corpus.py's (pages cut from PDFs in Debian documentation
packages), built once into ~/.cache/docfleet-bench/real unless --corpus names a folder that
has one. Per page, against pdftotext of the same page (see benchmarks/common/textfidelity.py):
  words F1        F1 of the multisets of words, against ``pdftotext -layout``
  line integrity  share of ``pdftotext`` lines of 4+ words found whole in the system's text
Systems: pdftotext itself (the ceiling, a self-check), pypdfium2, PyMuPDF and pdfminer.six
when installed, ``docfleet run --ocr auto``; then on a few pages ``docfleet run --ocr always``
and RapidOCR's own loop. Figures and targets are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median
from typing import Any

import real_corpus
from common.corpora import REAL_CORPUS, Key, Texts, page_id, spread
from common.docfleet_run import run_docfleet
from common.machine import print_machine
from common.pdfcut import cut
from common.peers import (
    pdfminer_texts,
    pdftotext_texts,
    pymupdf_texts,
    pypdfium2_texts,
    rapidocr_loop,
)
from common.report import Column, Table, add_output_options, fmt, verdict, write_json
from common.textfidelity import line_integrity, normalize_for_compare, pdftotext_page, words_f1
from common.timing import add_rates, in_work_folder, timed

OCR_DPI = 150  # docfleet's default rendering resolution
QUICK_DOCUMENTS = 10  # spread over the list: about 40 pages
TARGETS = {
    "words_f1_median": 0.999,
    "words_f1_mean": 0.99,  # and at least pypdfium2's mean
    "line_integrity_median": 0.97,
    "line_integrity_mean": 0.93,  # and above every peer's mean
}
PEERS = ("pypdfium2", "pymupdf", "pdfminer")


def score(texts: Texts, refs: dict[Key, dict], keys: list[Key]) -> tuple[dict, dict]:
    """Aggregate figures and per-page results; a page missing from ``texts`` counts as empty.

    A page where pdftotext finds no word (a cover drawn as paths) has nothing to compare
    against: it is left out of words F1, as a page without a line of 4+ words is left out of
    line integrity.
    """
    pages = {}
    for key in keys:
        text = texts.get(key, "")
        lines = line_integrity(text, refs[key]["lines"])
        has_words = bool(refs[key]["layout"].split())
        folded = normalize_for_compare(text)
        pages[key] = {
            "words_f1": words_f1(text, refs[key]["layout"]) if has_words else None,
            "line_integrity": lines.score,
            "lines": lines.lines,
            "lost": len(lines.missing),
            "missing": [
                {"line": line, "found_up_to": break_point(line, folded)}
                for line in lines.missing[:3]
            ],
        }
    f1 = [p["words_f1"] for p in pages.values() if p["words_f1"] is not None]
    li = [p["line_integrity"] for p in pages.values() if p["line_integrity"] is not None]
    return {
        "pages": len(keys),
        "missing_pages": sum(key not in texts for key in keys),
        "words_f1_median": median(f1) if f1 else None,
        "words_f1_mean": mean(f1) if f1 else None,
        "pages_without_words": len(keys) - len(f1),
        "line_integrity_median": median(li) if li else None,
        "line_integrity_mean": mean(li) if li else None,
        "pages_without_lines": len(keys) - len(li),
    }, pages


def measure(name: str, run: Callable[[], dict], refs: dict, keys: list[Key]) -> tuple[dict, dict]:
    """Run one system; an error or a missing library becomes its figures, not a crash."""
    print(f"running {name} ...", file=sys.stderr, flush=True)
    try:
        fig = run()
    except ImportError as exc:
        return {"ok": False, "error": f"not installed ({exc.name})"}, {}
    except Exception as exc:  # one broken system must not hide the others' figures
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, {}
    if "texts" not in fig:
        return {"ok": False, **fig}, {}
    figures, pages = score(fig.pop("texts"), refs, keys)
    fig = {**fig, "ok": True, **figures}
    return add_rates(fig, len(keys)), pages


def checks(systems: dict[str, dict]) -> dict[str, bool | None]:
    """Each target as met (True), missed (False) or not measured (None)."""
    d = systems.get("docfleet", {})
    if not d.get("ok") or d["line_integrity_mean"] is None:
        return dict.fromkeys(TARGETS)
    pdfium_mean = systems.get("pypdfium2", {}).get("words_f1_mean", 0.0)
    peers = [systems[p]["line_integrity_mean"] or 0.0 for p in PEERS if systems[p].get("ok")]
    return {
        "words_f1_median": d["words_f1_median"] >= TARGETS["words_f1_median"],
        "words_f1_mean": d["words_f1_mean"] >= max(TARGETS["words_f1_mean"], pdfium_mean),
        "line_integrity_median": d["line_integrity_median"] >= TARGETS["line_integrity_median"],
        "line_integrity_mean": d["line_integrity_mean"] >= TARGETS["line_integrity_mean"]
        and all(d["line_integrity_mean"] > peer for peer in peers),
    }


def break_point(line: str, text: str) -> str:
    """The longest start of ``line`` (whole words) that ``text`` has: where the line breaks."""
    words = line.split()
    for size in range(len(words) - 1, 0, -1):
        if " ".join(words[:size]) in text:
            return " ".join(words[:size])
    return ""


def worst_pages(pages: dict[Key, dict], n: int = 10) -> list[dict]:
    """docfleet's ``n`` pages with the lowest line integrity, with a few lines it lost."""
    scored = [(p["line_integrity"], k) for k, p in pages.items() if p["lost"]]
    return [{"document": k[0], "page": k[1], **pages[k]} for _, k in sorted(scored)[:n]]


def families(pages: dict[Key, dict], docs: dict[str, dict]) -> dict[str, dict]:
    """docfleet's medians per way of making the PDF (``family`` in the manifest)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for key, page in pages.items():
        groups[docs[key[0]]["family"]].append(page)
    out = {}
    for family, rows in sorted(groups.items()):
        li = [r["line_integrity"] for r in rows if r["line_integrity"] is not None]
        producers = sorted({d["producer"] for d in docs.values() if d["family"] == family})
        f1 = [r["words_f1"] for r in rows if r["words_f1"] is not None]
        out[family] = {
            "pages": len(rows),
            "words_f1_median": median(f1) if f1 else None,
            "line_integrity_median": median(li) if li else None,
            "line_integrity_mean": mean(li) if li else None,
            "producers": producers,
        }
    return out


def text_layer(read: Callable[[Path, list[Key]], Texts], folder: Path, keys: list[Key]) -> dict:
    """A peer reading the text layer of ``keys`` in this process, timed."""
    texts, wall = timed(read, folder, keys)
    return {"texts": texts, "wall_s": wall}


def docfleet_texts(folder: Path, out: Path, options: list[str], timeout: float) -> dict:
    """``docfleet run FOLDER`` as a subprocess: its pages' text, or why there is none."""
    fig = run_docfleet([folder], out, options, timeout=timeout)
    if fig["ok"] and not fig["texts"]:
        error = f"no page came out (exit code {fig['returncode']})"
        return {**{k: v for k, v in fig.items() if k != "texts"}, "ok": False, "error": error}
    return fig


def ocr_rows(folder: Path, keys: list[Key], refs: dict, work: Path, timeout: float) -> dict:
    """docfleet with ``--ocr always`` and RapidOCR's own loop on ``keys``, one PDF per page."""
    singles = {f"{Path(name).stem}--p{n}.pdf": (name, n) for name, n in keys}
    for single, (name, n) in singles.items():  # docfleet reads folders: just these pages
        cut(folder / name, [n], work / "ocr" / single)

    def docfleet_ocr() -> dict:
        options = ["--ocr", "always", "--pipeline", "layout+ocr", "--devices", "cpu"]
        fig = docfleet_texts(work / "ocr", work / "docfleet-ocr", [*options, "--no-progress"],
                             timeout)  # fmt: skip
        if "texts" in fig:
            fig["texts"] = {singles[n]: t for (n, _), t in fig["texts"].items() if n in singles}
        return fig

    def rapidocr() -> dict:
        pdfs = [folder / name for name in dict.fromkeys(name for name, _ in keys)]
        return rapidocr_loop(pdfs, OCR_DPI, only=set(keys))

    ocr: dict[str, Any] = {"pages": [page_id(key) for key in keys]}
    if keys:
        ocr["docfleet"], _ = measure("docfleet OCR", docfleet_ocr, refs, keys)
        ocr["rapidocr"], _ = measure("rapidocr", rapidocr, refs, keys)
    return ocr


def run_all(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    root = Path(args.corpus) if args.corpus else REAL_CORPUS
    manifest, reused = real_corpus.load(root)
    docs = {f["file"]: f for f in manifest["files"]}
    names = spread(sorted(docs), QUICK_DOCUMENTS) if args.quick else sorted(docs)
    folder = root / "text"
    if args.quick:  # docfleet reads a folder: give it just these documents
        folder = work / "quick"
        folder.mkdir()
        for name in names:
            shutil.copy(root / "text" / name, folder / name)
    keys = [(name, n) for name in names for n in range(1, len(docs[name]["pages"]) + 1)]
    print(f"reading pdftotext for {len(keys)} pages ...", file=sys.stderr, flush=True)
    refs = {
        (name, n): {
            "layout": pdftotext_page(folder / name, n, layout=True),
            "lines": pdftotext_page(folder / name, n).splitlines(),
        }
        for name, n in keys
    }
    options = ["--devices", "cpu", "--no-progress"]
    runs = {
        "pdftotext": lambda: text_layer(pdftotext_texts, folder, keys),
        "pypdfium2": lambda: text_layer(pypdfium2_texts, folder, keys),
        "pymupdf": lambda: text_layer(pymupdf_texts, folder, keys),
        "pdfminer": lambda: text_layer(pdfminer_texts, folder, keys),
        "docfleet": lambda: docfleet_texts(
            folder, work / "docfleet", ["--ocr", "auto", *options], args.timeout
        ),
    }
    systems, per_page = {}, {}
    for name, run in runs.items():
        systems[name], per_page[name] = measure(name, run, refs, keys)

    ocr = ocr_rows(folder, spread(keys, args.ocr_pages), refs, work, args.timeout)
    return {
        "corpus": {
            "root": str(root),
            "reused": reused,
            "quick": args.quick,
            "documents": len(names),
            "pages": len(keys),
        },
        "systems": systems,
        "ocr": ocr,
        "targets": TARGETS,
        "checks": checks(systems),
        "worst": worst_pages(per_page["docfleet"]),
        "families": families(per_page["docfleet"], docs),
        "per_page": [
            {
                "document": k[0],
                "page": k[1],
                "family": docs[k[0]]["family"],
                **{
                    s: {m: v for m, v in p[k].items() if m not in ("lost", "missing")}
                    for s, p in per_page.items()
                    if k in p
                },
            }
            for k in keys
        ],
    }


SYSTEMS = (
    Column("system", 14, "<"), Column("pages", 5), Column("words F1 med / mean", 19, "<", 3),
    Column("lines med / mean", 16, "<", 3), Column("left out", 8, gap=3),
    Column("pages/s", 7, gap=3),
)  # fmt: skip
FAMILIES = (
    Column("docfleet by producer", 30, "<"), Column("pages", 5),
    Column("words F1 med", 12, gap=3), Column("lines med / mean", 16, "<", 3),
)  # fmt: skip


def add_row(table: Table, name: str, fig: dict) -> None:
    if not fig.get("ok"):
        table.note(name, fig.get("error", "failed"))
        return
    speed = f"{fig['pages_per_s']:7.1f}"
    if "run_pages_per_s" in fig:
        speed += f" (run.json {fig['run_pages_per_s']:.1f})"
    if fig["missing_pages"]:
        speed += f"  ({fig['missing_pages']} pages missing)"
    table.add(name, str(fig["pages"]),
              f"{fmt(fig['words_f1_median'])} / {fmt(fig['words_f1_mean'])}",
              f"{fmt(fig['line_integrity_median'])} / {fmt(fig['line_integrity_mean'])}",
              f"{fig['pages_without_words']} / {fig['pages_without_lines']}", speed)  # fmt: skip


def report(figures: dict[str, Any], markdown: bool = False) -> None:
    c = figures["corpus"]
    print(f"corpus  {c['documents']} documents, {c['pages']} pages in {c['root']}")
    systems = Table(*SYSTEMS)
    for name, fig in figures["systems"].items():
        add_row(systems, name, fig)
    for name in ("docfleet", "rapidocr"):
        if name in figures["ocr"]:
            add_row(systems, f"{name} OCR"[:14], figures["ocr"][name])
    print(systems.render(markdown))
    print("(left out: pages where pdftotext has no word / no line of 4+ words)")
    d, ok = figures["systems"]["docfleet"], figures["checks"]
    best = max(
        (p for p in PEERS if figures["systems"][p].get("ok")),
        key=lambda p: figures["systems"][p]["line_integrity_mean"] or 0,
        default=None,
    )
    best_mean = fmt(figures["systems"][best]["line_integrity_mean"] if best else None)
    pdfium_mean = fmt(figures["systems"]["pypdfium2"].get("words_f1_mean"))
    extra = {
        "words_f1_mean": f" and >= pypdfium2's {pdfium_mean}",
        "line_integrity_mean": f" and above every peer's (best: {best} {best_mean})",
    }
    for key, target in TARGETS.items():
        label = key.replace("_", " ").replace("f1", "F1")
        print(
            f"target  {label} {fmt(d.get(key))} >= {target}{extra.get(key, '')}: {verdict(ok[key])}"
        )
    if figures["worst"]:
        print("docfleet's worst pages by line integrity (a lost line, and how far it got):")
    for w in figures["worst"]:
        print(
            f"  {w['document']}#{w['page']}  lines {w['line_integrity']:.3f} "
            f"({w['lost']} of {w['lines']} lost)  words F1 {fmt(w['words_f1'], 3)}"
        )
        for m in w["missing"]:
            print(f"      lost: {m['line'][:100]}")
            has = m["found_up_to"]
            has = "..." + has[-97:] if len(has) > 100 else has or "(not even its first word)"
            print(f"      has:  {has}")
    if figures["families"]:
        producers = Table(*FAMILIES)
        for family, f in figures["families"].items():
            producers.add(family, str(f["pages"]), fmt(f["words_f1_median"]),
                          f"{fmt(f['line_integrity_median'])} / "
                          f"{fmt(f['line_integrity_mean'])}")  # fmt: skip
        print(producers.render(markdown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", metavar="DIR", help=f"corpus folder ({REAL_CORPUS})")
    parser.add_argument("--quick", action="store_true", help="10 documents, about 40 pages")
    parser.add_argument("--ocr-pages", type=int, help="pages for the OCR rows (12; --quick 4)")
    add_output_options(parser)
    parser.add_argument("--keep", action="store_true", help="keep docfleet's output folders")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per docfleet run")
    args = parser.parse_args()
    if args.ocr_pages is None:
        args.ocr_pages = 4 if args.quick else 12
    machine = print_machine()
    start = time.perf_counter()
    figures = {"machine": machine}
    figures.update(in_work_folder("docfleet-accuracy-", args.keep, lambda w: run_all(args, w)))
    figures["wall_s"] = time.perf_counter() - start
    report(figures, args.markdown)
    print(f"took {figures['wall_s']:.0f} s")
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

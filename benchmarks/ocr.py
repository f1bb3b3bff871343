"""OCR of real scanned pages: docfleet's OCR models against a RapidOCR loop and OCRmyPDF.

    python benchmarks/ocr.py [--quick] [--set hard|easy|both] [--only NAMES] [--corpus DIR]
                             [--json PATH] [--markdown] [--ocrmypdf PATH] [--timeout S] [--keep]

Every variant reads the same pages of benchmarks/scanned_corpus.py's corpus (real pages
printed and scanned again in software), one after the other, in each set: ``hard`` (150-200
dpi, strong blur, low contrast, 1-2 degrees of skew, dust, JPEG at quality 30-50: what users
bring) and ``easy`` (200 dpi, a light scan); the targets are the hard set's:
  rapidocr_loop   a hand-written loop in this process: pypdfium2 at 200 dpi, one
                  ``rapidocr.RapidOCR()`` with its default settings, lines joined by newlines
  ocrmypdf        ``ocrmypdf -j 1 --sidecar OUT.txt --force-ocr --output-type pdf IN OUT``,
                  two files at a time; the text is the sidecar's (pages split at form feeds)
  docfleet_*      ``docfleet run`` as a subprocess with ``DOCFLEET_BASE`` and the flags of
                  ``DOCFLEET_VARIANTS`` (edit that table to try other settings)
  tiny_pages      ``docfleet run CORPUS/tiny --ocr always --pipeline layout+ocr`` on 2000
                  one-inch pages: pages per second, and blank pages must come out empty
A variant that fails (or whose program is missing) is reported with ``ok: false`` and the
reason; the others still run. Figures and targets are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import mean, median
from typing import Any

import scanned_corpus
from common.corpora import SCANNED_CORPUS, Texts, load_truth, page_id
from common.docfleet_run import merge_flags, run_docfleet
from common.machine import print_machine
from common.peers import rapidocr_loop
from common.report import Column, Table, add_output_options, cell, verdict, write_json
from common.textfidelity import score, words_f1
from common.timing import add_rates, in_work_folder

DPI = 200
DOCFLEET_BASE = ["--ocr", "always", "--pipeline", "ocr", "--devices", "cpu", "--dpi", str(DPI),
                 "--no-progress", "--no-resume"]  # fmt: skip
# name -> flags on top of DOCFLEET_BASE (a flag already there takes the new value)
DOCFLEET_VARIANTS: dict[str, list[str]] = {
    "docfleet_default": [],
    "small_old": ["--ocr-model", "small", "--ocr-det-side", "0", "--ocr-rec-batch", "1"],
    "small_detcap": ["--ocr-model", "small", "--ocr-rec-batch", "1"],
    "tiny": ["--ocr-model", "tiny"],
    "small": ["--ocr-model", "small"],
    "default_layout": ["--pipeline", "layout+ocr"],
    "cascade_float32": ["--set", "ocr.small_precision=float32"],  # the re-reading not quantised
    "small_int8": ["--ocr-model", "small", "--set", "ocr.small_precision=int8"],
    "small_int8_tiny_det": [
        "--ocr-model",
        "small",
        "--set",
        "ocr.small_precision=int8",
        "--set",
        "ocr.detector=tiny",
    ],
    "cascade_span": ["--set", "ocr.cascade_reread=span"],  # the unsure words alone read again
    "cascade_span_08": ["--set", "ocr.cascade_reread=span", "--set", "ocr.cascade_span_below=0.8"],
    "cascade_span_07": ["--set", "ocr.cascade_reread=span", "--set", "ocr.cascade_span_below=0.7"],
    "one_worker": ["--replicas", "1", "--cpu-threads", "2"],  # one worker of two threads
    "padded_batches": ["--ocr-rec-batch", "16", "--set", "ocr.rec_pad_tolerance=48"],
    "no_deskew": ["--set", "render.deskew=false"],  # tilted pages read as scanned
    "tiny_no_deskew": ["--ocr-model", "tiny", "--set", "render.deskew=false"],
}
TINY_OPTIONS = ["--ocr", "always", "--pipeline", "layout+ocr", "--devices", "cpu", "--no-progress"]
VARIANTS = ("rapidocr_loop", "ocrmypdf", *DOCFLEET_VARIANTS, "tiny_pages")
QUICK_PDFS = 4  # the first 8 pages
SETS = {"hard": scanned_corpus.HARD, "easy": scanned_corpus.EASY}
TARGETS = {
    "default_vs_ocrmypdf": 1.5,  # pages/s, whole command, on the hard set
    "default_f1_vs_small": 0.0,  # words F1 difference (median and mean), at least
    "default_f1_vs_small_old": -0.005,  # mean words F1 difference, at least
    "default_f1_vs_rapidocr_loop": 0.0,  # mean words F1 difference, above
    "tiny_pages_per_s": 50.0,
}
OCRMYPDF_VENV = Path("/work/ocrmypdf-venv/bin/ocrmypdf")


def ocrmypdf(exe: str | None, pdfs: list[Path], work: Path, timeout: float) -> dict[str, Any]:
    """OCRmyPDF over ``pdfs``, two files at a time, one job each; the sidecar texts."""
    if not exe:
        return {"ok": False, "error": f"not installed (no ocrmypdf on PATH or {OCRMYPDF_VENV})"}
    versions = {}
    for name, command in (("ocrmypdf", [exe, "--version"]), ("tesseract", ["tesseract", "-v"])):
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except OSError as exc:
            return {"ok": False, "error": f"{name} not runnable: {exc}"}
        versions[name] = (proc.stdout or proc.stderr).strip().splitlines()[0]
    out = work / "ocrmypdf"
    out.mkdir(parents=True, exist_ok=True)

    def one(pdf: Path) -> tuple[Path, str | None]:
        sidecar = out / f"{pdf.stem}.txt"
        command = [exe, "-j", "1", "--sidecar", str(sidecar), "--force-ocr",
                   "--output-type", "pdf", str(pdf), str(out / pdf.name)]  # fmt: skip
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return sidecar, f"{pdf.name}: timed out after {timeout:.0f} s"
        if proc.returncode or not sidecar.exists():
            lines = " | ".join(proc.stderr.strip().splitlines()[-3:])
            return sidecar, f"{pdf.name}: exit code {proc.returncode}: {lines}"
        return sidecar, None

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(one, pdfs))
    wall = time.perf_counter() - start
    texts: Texts = {}
    for pdf, (sidecar, error) in zip(pdfs, done, strict=True):
        if error is None:
            for number, text in enumerate(sidecar.read_text(encoding="utf-8").split("\f"), 1):
                texts[pdf.name, number] = text
    errors = [error for _, error in done if error]
    shown = "ocrmypdf -j 1 --sidecar OUT.txt --force-ocr --output-type pdf IN OUT.pdf (2 at once)"
    if not texts:
        return {"ok": False, "command": shown, "error": "; ".join(errors[:3]), **versions}
    return {"ok": True, "command": shown, **versions, "wall_s": wall, "files_failed": len(errors),
            "errors": errors, "texts": texts}  # fmt: skip


def tiny_pages(folder: Path, truth: Texts, work: Path, timeout: float) -> dict[str, Any]:
    """docfleet on the 2000 one-inch pages: pages/s, words F1 of the others, blanks empty."""
    keys = sorted(truth)
    fig = run_docfleet([folder], work / "tiny_pages", TINY_OPTIONS, timeout=timeout)
    texts = fig.pop("texts", None)
    if texts is None:
        return fig
    add_rates(fig, len(keys))
    blank = [key for key in keys if not truth[key].strip()]
    written = [key for key in keys if truth[key].strip()]
    f1 = [words_f1(texts.get(key, ""), truth[key]) for key in written]
    fig.update(
        words_f1_median=median(f1),
        words_f1_mean=mean(f1),
        missing_pages=sum(key not in texts for key in keys),
        blank_pages=len(blank),
        blank_pages_empty=sum(key in texts and not texts[key].strip() for key in blank),
        blank_pages_with_text=[page_id(k) for k in blank if texts.get(k, "").strip()][:10],
    )
    return fig


def ratios(figures: dict[str, Any]) -> dict[str, float]:
    """docfleet_default against the others: pages/s ratios and mean words F1 differences."""
    out: dict[str, float] = {}
    base = figures.get("docfleet_default", {})
    if not base.get("ok"):
        return out
    for name in ("ocrmypdf", "rapidocr_loop", "small_old", "small"):
        other = figures.get(name, {})
        if other.get("ok"):
            out[f"default_vs_{name}"] = base["pages_per_s"] / other["pages_per_s"]
            median_f1 = base["words_f1_median"] - other["words_f1_median"]
            out[f"default_f1_median_vs_{name}"] = median_f1
            if "steady_pages_per_s" in base and "steady_pages_per_s" in other:
                steady = base["steady_pages_per_s"] / other["steady_pages_per_s"]
                out[f"default_vs_{name}_steady"] = steady
            out[f"default_f1_vs_{name}"] = base["words_f1_mean"] - other["words_f1_mean"]
            out[f"default_cer_vs_{name}"] = base["cer_mean"] - other["cer_mean"]
    return out


def checks(figures: dict[str, Any]) -> dict[str, bool | None]:
    """Each target of a set as met (True), missed (False) or not measured (None)."""
    r = figures["ratios"]

    def at_least(key: str, strict: bool = False) -> bool | None:
        if key not in r:
            return None
        return r[key] > TARGETS[key] if strict else r[key] >= TARGETS[key]

    small = (at_least("default_f1_vs_small"), r.get("default_f1_median_vs_small"))
    return {
        "default_vs_ocrmypdf": at_least("default_vs_ocrmypdf"),
        "default_f1_vs_small": None if small[0] is None else small[0] and small[1] >= 0,
        "default_f1_vs_small_old": at_least("default_f1_vs_small_old"),
        "default_f1_vs_rapidocr_loop": at_least("default_f1_vs_rapidocr_loop", strict=True),
    }


TABLE = (
    Column("variant", 17, "<"), Column("pages", 5), Column("pages/s", 7), Column("run.json", 8),
    Column("steady", 7), Column("startup", 7), Column("F1 med", 6, gap=2), Column("mean", 6),
    Column("CER med", 7, gap=2), Column("mean", 6), Column("reread", 6),
    Column("mean s/page by stage", align="<", gap=2),
)  # fmt: skip


def add_row(table: Table, name: str, fig: dict[str, Any] | None) -> None:
    """One line: speeds, words F1 and CER (median / mean), stage seconds per page."""
    if fig is None:
        table.note(name, "skipped")
        return
    if not fig.get("ok"):
        table.note(name, f"ERROR {fig.get('error')}")
        return
    cer = [f"{fig['cer_median']:.2%}", f"{fig['cer_mean']:.2%}"] if "cer_mean" in fig else []
    lines = fig.get("ocr_lines") or 0
    reread = f"{fig.get('ocr_reread', 0) / lines:.0%}" if lines else ""
    notes = []
    if "blank_pages" in fig:
        notes.append(f"blank pages empty {fig['blank_pages_empty']}/{fig['blank_pages']}")
    stages = fig.get("stage_seconds") or {}
    notes.append(" ".join(f"{stage} {secs:.3f}" for stage, secs in stages.items()))
    if fig.get("pages_failed") or fig.get("missing_pages") or fig.get("files_failed"):
        notes.append(f"failed {fig.get('pages_failed', 0)}, missing {fig.get('missing_pages', 0)}")
    table.add(name, str(fig["pages"]), cell(fig, "pages_per_s", ".2f"),
              cell(fig, "run_pages_per_s", ".2f"), cell(fig, "steady_pages_per_s", ".2f"),
              cell(fig, "startup_s", ".1f"), f"{fig['words_f1_median']:.3f}",
              f"{fig['words_f1_mean']:.3f}", *(cer or ["", ""]), reread,
              "  ".join(note for note in notes if note))  # fmt: skip


def report(figures: dict[str, Any], markdown: bool = False) -> None:
    for name, fig in figures["sets"].items():
        report_set(name, fig, markdown)
    tiny = figures.get("tiny_pages") or {}
    if tiny:
        table = Table(*TABLE)
        add_row(table, "tiny_pages", tiny)
        print(table.render(markdown))
    rate = f"{tiny['pages_per_s']:.1f} pages/s" if tiny.get("ok") else "n/a"
    ok = tiny.get("ok")
    print(
        f"target            tiny_pages {rate}, target >= {TARGETS['tiny_pages_per_s']:.0f}: "
        f"{verdict(tiny['pages_per_s'] >= TARGETS['tiny_pages_per_s'] if ok else None)}; "
        f"blank pages empty: "
        f"{verdict(tiny['blank_pages_empty'] == tiny['blank_pages'] if ok else None)}"
    )


def report_set(name: str, figures: dict[str, Any], markdown: bool = False) -> None:
    c = figures["corpus"]
    print(f"{name} set {c['pages']} scanned pages in {c['pdfs']} PDFs, {c['folder']}")
    table = Table(*TABLE)
    for variant in VARIANTS:
        if variant != "tiny_pages":
            add_row(table, variant, figures.get(variant))
    print(table.render(markdown))
    r, ok = figures["ratios"], figures["checks"]

    def show(key: str, form: str, unit: str = "") -> str:
        return format(r[key], form) + unit if key in r else "n/a"

    print(
        f"target  {name:<9} docfleet_default / ocrmypdf {show('default_vs_ocrmypdf', '.2f', 'x')}"
        f", target >= {TARGETS['default_vs_ocrmypdf']}x: {verdict(ok['default_vs_ocrmypdf'])}"
    )
    print(
        f"target  {name:<9} words F1 docfleet_default - small, median "
        f"{show('default_f1_median_vs_small', '+.4f')}, mean {show('default_f1_vs_small', '+.4f')}"
        f", target >= 0 both: {verdict(ok['default_f1_vs_small'])}"
    )
    print(
        f"target  {name:<9} words F1 docfleet_default - rapidocr_loop "
        f"{show('default_f1_vs_rapidocr_loop', '+.4f')}, target > 0: "
        f"{verdict(ok['default_f1_vs_rapidocr_loop'])}"
    )
    print(f"ratio   {name:<9} docfleet_default / rapidocr_loop "
          f"{show('default_vs_rapidocr_loop', '.2f', 'x')} (after start-up "
          f"{show('default_vs_rapidocr_loop_steady', '.2f', 'x')})")  # fmt: skip


def run_all(args: argparse.Namespace, chosen: tuple[str, ...], work: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"sets": {}}
    names = ("hard", "easy") if args.set == "both" else (args.set,)
    for name in names:
        figures["sets"][name] = run_set(args, chosen, work / name, SETS[name])
    if "tiny_pages" in chosen and not args.quick:
        root = Path(args.corpus)
        print("running tiny_pages ...", file=sys.stderr, flush=True)
        figures["tiny_pages"] = tiny_pages(
            root / "tiny", load_truth(root / "tiny-truth.jsonl"), work, args.timeout
        )
    figures["targets"] = TARGETS
    return figures


def run_set(
    args: argparse.Namespace, chosen: tuple[str, ...], work: Path, look: scanned_corpus.Look
) -> dict[str, Any]:
    """Every chosen variant (but tiny_pages) on the pages of one look."""
    corpus = scanned_corpus.load(Path(args.corpus), QUICK_PDFS if args.quick else None, look)
    root, pdfs, truth, keys = corpus.root, corpus.pdfs, corpus.truth, corpus.keys
    inputs = pdfs if args.quick else [root / look.folder]
    seed = corpus.manifest["scanned"]["seed"]
    figures: dict[str, Any] = {
        "corpus": {**corpus.figures(args.quick), "folder": look.folder, "seed": seed}
    }
    exe = args.ocrmypdf or (str(OCRMYPDF_VENV) if OCRMYPDF_VENV.exists() else None)
    exe = exe or shutil.which("ocrmypdf")
    work.mkdir(parents=True, exist_ok=True)
    runs = {
        "rapidocr_loop": lambda: rapidocr_loop(pdfs, DPI),
        "ocrmypdf": lambda: ocrmypdf(exe, pdfs, work, args.timeout),
    }
    for name, extra in DOCFLEET_VARIANTS.items():
        options = merge_flags(DOCFLEET_BASE, extra)
        runs[name] = lambda n=name, o=options: run_docfleet(
            inputs, work / n, o, timeout=args.timeout
        )
    for name in chosen:
        if name == "tiny_pages":
            continue
        print(f"running {name} on the {look.folder} pages ...", file=sys.stderr, flush=True)
        try:
            fig = runs[name]()
        except Exception as exc:  # one broken variant must not hide the others' figures
            fig = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if "texts" in fig:
            texts = fig.pop("texts")
            add_rates(fig, len(keys))
            fig.update(score(texts, truth, keys))
        figures[name] = fig
    figures["ratios"] = ratios(figures)
    figures["checks"] = checks(figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser)
    parser.add_argument("--quick", action="store_true", help="first 8 pages, no tiny_pages")
    parser.add_argument("--set", choices=("hard", "easy", "both"), default="both",
                        help="the hard scans, the easy ones, or both (default)")  # fmt: skip
    parser.add_argument("--corpus", default=str(SCANNED_CORPUS), help="scanned_corpus.py's folder")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated of {','.join(VARIANTS)}")
    parser.add_argument("--ocrmypdf", metavar="PATH", help=f"ocrmypdf to run ({OCRMYPDF_VENV})")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    parser.add_argument("--keep", action="store_true", help="keep the output folders")
    args = parser.parse_args()
    chosen = tuple(args.only.split(",")) if args.only else VARIANTS
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        parser.error(
            f"unknown variant(s) {', '.join(sorted(unknown))}; valid: {', '.join(VARIANTS)}"
        )
    machine = print_machine(18)
    figures = {"machine": machine}
    figures.update(
        in_work_folder("docfleet-ocr-bench-", args.keep, lambda w: run_all(args, chosen, w))
    )
    report(figures, args.markdown)
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

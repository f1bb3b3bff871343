"""What table structure costs on scanned pages: ``docfleet run`` with and without the tables
stage on the same pages, in the same run.

    python benchmarks/table_cost.py [--corpus DIR] [--quick] [--repeats N] [--json PATH]

The pages are benchmarks/scanned_corpus.py's (real manual pages printed and scanned again;
built in ``--corpus`` when missing). Each system runs ``--repeats`` times, alternating, so that
other work on the machine weighs on both alike; the best run of each counts:
  layout+ocr          ``docfleet run PDFS -o OUT --ocr always`` (layout and OCR)
  layout+ocr+tables   the same with ``--pipeline layout+ocr+tables``
Printed: pages/s and seconds per page of each, the ratio, how many pages the tables stage
wrote a table on, and its own seconds per page (where it read one, and over all pages).
Target: under 15% slower on pages without tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import scanned_corpus
from common.corpora import SCANNED_CORPUS
from common.docfleet_run import run_docfleet
from common.machine import print_machine
from common.report import fmt, verdict, write_json
from common.timing import in_work_folder

BASE = ["--ocr", "always", "--devices", "cpu", "--no-progress"]
SYSTEMS = {
    "layout+ocr": ["--pipeline", "layout+ocr"],
    "layout+ocr+tables": ["--pipeline", "layout+ocr+tables"],
}
TARGET = 1.15  # at most this many times the seconds per page of layout+ocr
QUICK_PDFS = 3


def table_pages(out: Path) -> dict[str, Any]:
    """Pages on which a table block carries the table model's HTML, and the tables stage's
    seconds on those pages and on all."""
    pages, with_table, seconds, seconds_there = 0, 0, 0.0, 0.0
    with open(out / "pages.jsonl", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record.get("status") != "ok":
                continue
            pages += 1
            took = (record.get("seconds") or {}).get("tables", 0.0)
            seconds += took
            if any(b.get("html") for b in record.get("blocks", [])):
                with_table += 1
                seconds_there += took
    return {
        "pages": pages,
        "pages_with_table": with_table,
        "tables_s_per_page": seconds / pages if pages else None,
        "tables_s_per_table_page": seconds_there / with_table if with_table else None,
    }


def measure(pdfs: list[Path], work: Path, repeats: int, timeout: float) -> dict[str, Any]:
    """Every system ``repeats`` times, alternating; the best run of each with its figures."""
    best: dict[str, dict[str, Any]] = {}
    for rep in range(repeats):
        for name, flags in SYSTEMS.items():
            print(f"running {name} ({rep + 1}/{repeats}) ...", file=sys.stderr, flush=True)
            out = work / f"{name}-{rep}"
            fig = run_docfleet(pdfs, out, [*BASE, *flags], timeout=timeout)
            fig.pop("texts", None)
            if not fig.get("ok"):
                best.setdefault(name, fig)
                continue
            fig["seconds_per_page"] = fig.get("run_wall_s", fig["wall_s"]) / max(
                1, table_pages(out)["pages"]
            )
            fig.update(table_pages(out))
            if not best.get(name, {}).get("ok") or (
                fig["seconds_per_page"] < best[name]["seconds_per_page"]
            ):
                best[name] = fig
    return best


def report(figures: dict[str, Any]) -> None:
    systems = figures["systems"]
    print(f"\npages             {figures['pages']} scanned pages in {figures['pdfs']} PDFs")
    print(f"{'system':<20} {'pages/s':>8} {'s/page':>8} {'table pages':>12} {'tables s/pg':>12}")
    for name, fig in systems.items():
        if not fig.get("ok"):
            print(f"{name:<20} failed: {fig.get('error')}")
            continue
        print(f"{name:<20} {fmt(1 / fig['seconds_per_page'], 3):>8} "
              f"{fmt(fig['seconds_per_page'], 3):>8} {fig['pages_with_table']:>12} "
              f"{fmt(fig.get('tables_s_per_page'), 3):>12}")  # fmt: skip
    ratio = figures.get("ratio")
    if ratio is not None:
        print(f"\nwith tables / without: {ratio:.3f}x the seconds per page "
              f"(target <= {TARGET:.2f}x): {verdict(ratio <= TARGET)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SCANNED_CORPUS), help="scanned_corpus.py's folder")
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_PDFS} PDFs")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each system (2)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per docfleet run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    machine = print_machine()
    corpus = scanned_corpus.load(Path(args.corpus), QUICK_PDFS if args.quick else None)
    start = time.perf_counter()
    systems = in_work_folder(
        "docfleet-table-cost-",
        False,
        lambda work: measure(corpus.pdfs, work, max(1, args.repeats), args.timeout),
    )
    pages = next((f["pages"] for f in systems.values() if f.get("ok")), 0)
    figures: dict[str, Any] = {"machine": machine, "pdfs": len(corpus.pdfs),
                               "pages": pages, "systems": systems}  # fmt: skip
    plain, tables = systems.get("layout+ocr", {}), systems.get("layout+ocr+tables", {})
    if plain.get("ok") and tables.get("ok"):
        figures["ratio"] = tables["seconds_per_page"] / plain["seconds_per_page"]
    figures["wall_s"] = time.perf_counter() - start
    report(figures)
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

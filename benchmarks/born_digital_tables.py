"""Born-digital tables: PubTabNet's 20 reference tables set as PDFs with a text layer, scored by
TEDS against the same references, docfleet beside the peers a user would pick for PDF tables.

    python benchmarks/born_digital_tables.py [--data DIR] [--json PATH] [--markdown] [--keep]

Each reference table (``../shared/data/public-eval/pubtabnet-examples``, read in place) is set
by WeasyPrint (a real HTML engine: DejaVu fonts, cells that wrap where a column is narrow) on an
A4 page in two styles: ``plain`` (rules above, below and under the header, as journals draw
them) and ``ruled`` (a full grid). Systems, on the same PDFs in the same run:
  docfleet          ``docfleet run PDFS -o OUT --devices cpu`` (the default pipeline: text-layer
                    pages whose rows make no clean table are rendered for the layout and table
                    models, their cells filled with the text layer's characters; a table drawn
                    as a full grid is read from its rulings); a table is a
                    table block's ``html``, else the page's blocks as rows (as its Markdown)
  docfleet model    the same with ``--set tables.ruled=false``: a table drawn as a grid read by
                    the table model, not from its rulings
  docfleet rows     the same with ``--set render.table_pixels=false``: tables from the text
                    layer's rows alone (docfleet before born-digital pages reached the models)
  pdfplumber        ``page.extract_tables()`` (lines strategy, its default), the largest table
  pdfplumber text   ``extract_tables({"vertical_strategy": "text", "horizontal_strategy":
                    "text"})``, for tables drawn without a grid
  PyMuPDF           ``page.find_tables()``, the largest table, ``to_pandas``-free: its
                    ``extract()`` rows
A table a system does not find scores 0. The header row a peer gives as a row is compared as a
row (TEDS reads ``<th>`` as ``<td>``).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from common.machine import print_machine
from common.report import Column, Table, add_output_options, fmt, write_json
from common.structure_metrics import pubtabnet_html, teds
from common.tablepdf import STYLES, table_pdf
from common.timing import in_work_folder
from structure import measure, region_html, run_pages

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "public-eval"
DOCFLEET = ["--devices", "cpu", "--no-progress"]
ROWS_ONLY = ["--set", "render.table_pixels=false"]
MODEL_ONLY = ["--set", "tables.ruled=false"]


def rows_html(rows: Sequence[Sequence[str | None]]) -> str:
    """A peer's rows of cells as an HTML table (``None`` cells, merged ones, left empty)."""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape((c or '').strip())}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<html><body><table>{body}</table></body></html>"


def docfleet_tables(pdfs: list[Path], out: Path, options: list[str]) -> dict[str, Any]:
    """docfleet's table per PDF, as ``structure.py`` scores it: the largest table block's
    ``html``, else the page's blocks as rows."""
    fig = run_pages(pdfs, out, [*DOCFLEET, *options], timeout=1800)
    if not fig.get("ok", True) or "rows" not in fig:
        return fig
    made = {Path(name).stem: region_html(row["blocks"], None, 1.0, True)
            for name, row in fig.pop("rows").items()}  # fmt: skip
    return {**fig, "ok": True, "html": {n: h for n, (h, _) in made.items()},
            "from_model": sum(from_html for _, from_html in made.values())}  # fmt: skip


def peer(pdfs: list[Path], read: Callable[[Path], list[list[list[str | None]]]]) -> dict:
    """A peer's largest table per PDF, timed."""
    start = time.perf_counter()
    tables = {}
    for pdf in pdfs:
        found = [t for t in read(pdf) if t]
        if found:
            tables[pdf.stem] = rows_html(max(found, key=lambda t: sum(map(len, t))))
    wall = time.perf_counter() - start
    return {"ok": True, "html": tables, "wall_s": wall, "seconds_per_page": wall / len(pdfs)}


def pdfplumber_tables(settings: dict[str, str] | None) -> Callable[[Path], list]:
    def read(pdf: Path) -> list:
        import pdfplumber

        with pdfplumber.open(pdf) as doc:
            return doc.pages[0].extract_tables(settings or {})

    return read


def pymupdf_tables(pdf: Path) -> list:
    import pymupdf

    with pymupdf.open(pdf) as doc:
        return [t.extract() for t in doc[0].find_tables().tables]


def score(fig: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """TEDS and TEDS-S per table (0 for a table not found) and their means."""
    made = fig.pop("html", {})
    per = {n: (teds(made.get(n, ""), ref), teds(made.get(n, ""), ref, True))
           for n, ref in refs.items()}  # fmt: skip
    return {**fig, "tables": {n: {"teds": t, "teds_s": s} for n, (t, s) in per.items()},
            "teds_mean": mean(t for t, _ in per.values()),
            "teds_s_mean": mean(s for _, s in per.values()),
            "found": sum(n in made for n in refs)}  # fmt: skip


def run_style(style: str, refs: dict[str, str], work: Path) -> dict[str, Any]:
    folder = work / style
    folder.mkdir(parents=True, exist_ok=True)
    pdfs = [table_pdf(ref, style, folder / f"{name}.pdf") for name, ref in refs.items()]
    systems = {
        "docfleet": lambda: docfleet_tables(pdfs, work / f"out-{style}", []),
        "docfleet model": lambda: docfleet_tables(pdfs, work / f"out-{style}-model", MODEL_ONLY),
        "docfleet rows": lambda: docfleet_tables(pdfs, work / f"out-{style}-rows", ROWS_ONLY),
        "pdfplumber": lambda: peer(pdfs, pdfplumber_tables(None)),
        "pdfplumber text": lambda: peer(
            pdfs, pdfplumber_tables({"vertical_strategy": "text", "horizontal_strategy": "text"})
        ),
        "PyMuPDF": lambda: peer(pdfs, pymupdf_tables),
    }
    out = {}
    for name, run in systems.items():
        fig = measure(f"{name} ({style})", run)
        out[name] = score(fig, refs) if fig.get("ok") else fig
    return out


def report(figures: dict[str, Any], markdown: bool) -> None:
    for style in STYLES:
        print(f"\n{style} tables ({figures['tables']} PDFs, one table each)")
        table = Table(Column("system", 16, "<"), Column("TEDS", 6), Column("TEDS-S", 6),
                      Column("found", 5), Column("by model", 8), Column("s/page", 7))  # fmt: skip
        for name, fig in figures[style].items():
            if not fig.get("ok"):
                table.note(name, fig.get("error", "failed"))
                continue
            table.add(name, fmt(fig["teds_mean"], 3), fmt(fig["teds_s_mean"], 3),
                      str(fig["found"]), str(fig.get("from_model", "-")),
                      fmt(fig.get("seconds_per_page"), 3))  # fmt: skip
        print(table.render(markdown))
    names = list(figures[STYLES[0]]["docfleet"].get("tables", {}))
    print("\nTEDS per table: docfleet / docfleet rows / best peer, plain then ruled")
    for name in names:
        cells = []
        for style in STYLES:
            systems = figures[style]
            own = [systems[s].get("tables", {}).get(name, {}).get("teds")
                   for s in ("docfleet", "docfleet rows")]  # fmt: skip
            peers = [f.get("tables", {}).get(name, {}).get("teds") or 0.0
                     for s, f in systems.items() if not s.startswith("docfleet")]  # fmt: skip
            cells.append(" / ".join(fmt(v, 3) for v in [*own, max(peers, default=None)]))
        print(f"  {name:20} {cells[0]:24} {cells[1]}")


def run_all(data: Path, work: Path) -> dict[str, Any]:
    root = data / "pubtabnet-examples"
    with open(root / "PubTabNet_Examples.jsonl", encoding="utf-8") as fh:
        records = sorted((json.loads(line) for line in fh), key=lambda r: r["filename"])
    refs = {Path(r["filename"]).stem: pubtabnet_html(r["html"]) for r in records}
    return {"tables": len(refs), **{style: run_style(style, refs, work) for style in STYLES}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help=f"the public-eval folder ({DATA})")
    add_output_options(parser)
    parser.add_argument("--keep", action="store_true", help="keep the PDFs and outputs")
    args = parser.parse_args()
    machine = print_machine()
    start = time.perf_counter()
    figures: dict[str, Any] = {"machine": machine}
    figures.update(in_work_folder("docfleet-bdtables-", args.keep,
                                  lambda w: run_all(Path(args.data), w)))  # fmt: skip
    figures["wall_s"] = time.perf_counter() - start
    report(figures, args.markdown)
    print(f"took {figures['wall_s']:.0f} s")
    write_json(figures, args.json)


if __name__ == "__main__":
    sys.exit(main())

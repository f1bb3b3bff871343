"""Page structure on public annotated sets: tables by TEDS, body text against OmniDocBench's.

    python benchmarks/structure.py [--data DIR] [--quick] [--json PATH] [--markdown]
                                   [--timeout S] [--keep]

The sets are read in place from ``--data`` (``../shared/data/public-eval``, see its README):
  PubTabNet-20     20 images of one table each; the reference HTML is the record's cell tokens
                   filled into its structure tokens. TEDS and TEDS-S (structure only) per table.
  OmniDocBench     18 annotated page images: body text edit distance, reading-order edit
                   distance, text blocks found, furniture left out of the body, table TEDS.
Systems, on the same images in the same run:
  docfleet         ``docfleet run IMAGES -o OUT --ocr always --devices cpu --pipeline layout+ocr``
                   (no table model) as a subprocess; a table is what its Markdown shows in the
                   table's area: a table block's rows (cells at tabs) and every other line as a
                   row of one cell
  docfleet+tables  the same with ``--pipeline layout+ocr+tables`` (the default pipeline), a
                   table block's ``html`` taken as written; skipped, with the reason, when no
                   ``tables`` stage is registered
  rapid-table      rapid-table's own pipeline (PubTabNet only): ``RapidTable()(image, ocr)`` with
                   ``rapidocr.RapidOCR()``'s boxes, texts and scores, as its README does
Figures, their exact definitions and the targets are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import mean
from typing import Any

from common.corpora import spread
from common.docfleet_run import run_docfleet
from common.machine import print_machine
from common.report import Column, Table, add_output_options, fmt, verdict, write_json
from common.structure_metrics import (
    FURNITURE,
    NOT_TEXT,
    Body,
    blocks_html,
    body_elements,
    centre_in,
    order_edit_distance,
    poly_box,
    pubtabnet_html,
    shown_blocks,
    teds,
    text_edit_distance,
)
from common.timing import in_work_folder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "public-eval"
DOCFLEET = ["--ocr", "always", "--devices", "cpu", "--no-progress"]
TABLES_PIPELINE = ["--pipeline", "layout+ocr+tables"]
QUICK = {"pubtabnet": 5, "omnidocbench": 4}
TARGETS = {
    "pubtabnet_teds": 0.90,  # and above rapid-table's
    "pubtabnet_teds_s": 0.95,  # and above rapid-table's
    "omnidocbench_table_teds": 0.82,
    "furniture_out": 0.90,
    "blocks_found": 0.75,
}
PUBLISHED = [  # OmniDocBench v1.5, full benchmark: overall / text edit / table TEDS / order edit
    "PaddleOCR-VL 92.86 / 0.035 / 90.89 / 0.043",
    "MinerU2.5 90.67",
    "PP-StructureV3 86.73 / 0.073 / 81.68 / 0.073",
    "Marker 71.30 / 0.206 / 57.88 / 0.250",
]


def tables_stage() -> tuple[bool, str]:
    """Whether docfleet registers a ``tables`` stage, and the reason when it does not."""
    from docfleet.engine.registry import available_stages

    stages = available_stages()
    if "tables" in stages:
        return True, ""
    return False, f"no `tables` stage registered (stages: {', '.join(sorted(stages))})"


def region_html(
    blocks: list[dict[str, Any]], box: Any, scale: float, use_html: bool
) -> tuple[str, bool]:
    """The table docfleet gives for ``box`` (its whole page without one), and whether it is a
    table block's own ``html``: with ``use_html`` that of the largest table block centred there;
    else, or without one, its blocks there as :func:`blocks_html` turns them into a table."""
    region = [b for b in shown_blocks(blocks) if centre_in(b["bbox"], box, scale)]
    if use_html:
        written = [b for b in blocks if b.get("html") and centre_in(b["bbox"], box, scale)]
        if written:
            largest = max(
                written, key=lambda b: (b["bbox"][2] - b["bbox"][0]) * (b["bbox"][3] - b["bbox"][1])
            )
            return largest["html"], True
    return blocks_html(region), False


def run_pages(images: list[Path], out: Path, options: list[str], timeout: float) -> dict:
    """``docfleet run`` on ``images``: per image name its row of pages.jsonl, and the timings."""
    fig = run_docfleet(images, out, options, timeout=timeout, field="blocks")
    if not fig.pop("texts", None):
        return {**fig, "ok": False, "error": fig.get("error") or "no page came out"}
    with open(out / "pages.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    fig["rows"] = {Path(r["document"]).name: r for r in rows if r.get("status") == "ok"}
    fig["seconds_per_page"] = fig["wall_s"] / len(images)
    if "run_wall_s" in fig:
        fig["run_seconds_per_page"] = fig["run_wall_s"] / len(images)
    return fig


def score_tables(predicted: dict[str, str], refs: dict[str, str]) -> dict[str, Any]:
    """TEDS and TEDS-S of each predicted table (empty when missing) and their means."""
    tables = []
    for name, ref in refs.items():
        pred = predicted.get(name, "")
        tables.append({"table": name, "teds": teds(pred, ref), "teds_s": teds(pred, ref, True)})
    return {
        "tables": tables,
        "teds_mean": mean(t["teds"] for t in tables) if tables else None,
        "teds_s_mean": mean(t["teds_s"] for t in tables) if tables else None,
        "missing": sum(name not in predicted for name in refs),
    }


def rapid_table(images: list[Path]) -> dict[str, Any]:
    """rapid-table 0.3.0's pipeline as its README runs it: OCR, then ``RapidTable()``."""
    start = time.perf_counter()
    from rapid_table import RapidTable
    from rapidocr import RapidOCR

    ocr, table = RapidOCR(params={"Global.log_level": "warning"}), RapidTable()
    startup = time.perf_counter() - start
    html = {}
    for image in images:
        out = ocr(str(image))
        boxes = [] if out.boxes is None else out.boxes.tolist()
        result = list(zip(boxes, out.txts or (), out.scores or (), strict=False))
        html[image.name] = table(str(image), result)[0] if result else ""
    wall = time.perf_counter() - start
    return {"ok": True, "wall_s": wall, "startup_s": startup, "html": html,
            "seconds_per_page": (wall - startup) / len(images)}  # fmt: skip


def measure(name: str, run: Callable[[], dict]) -> dict[str, Any]:
    """One system's run; an error or a missing library becomes its figures, not a crash."""
    print(f"running {name} ...", file=sys.stderr, flush=True)
    try:
        return run()
    except ImportError as exc:
        return {"ok": False, "error": f"not installed ({exc.name})"}
    except Exception as exc:  # one broken system must not hide the others' figures
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def pubtabnet(root: Path, quick: bool, work: Path, timeout: float) -> dict[str, Any]:
    """PubTabNet-20: every system's HTML per image, scored against the reference."""
    with open(root / "PubTabNet_Examples.jsonl", encoding="utf-8") as fh:
        records = sorted((json.loads(line) for line in fh), key=lambda r: r["filename"])
    records = spread(records, QUICK["pubtabnet"]) if quick else records
    refs = {r["filename"]: pubtabnet_html(r["html"]) for r in records}
    images = [root / name for name in refs]
    systems: dict[str, Any] = {}
    for name, fig, use_html in docfleet_variants(images, work / "ptn", timeout, systems):
        if fig.get("ok"):
            rows = fig.pop("rows")
            made = {n: region_html(r["blocks"], None, 1.0, use_html) for n, r in rows.items()}
            fig.update(score_tables({n: h for n, (h, _) in made.items()}, refs))
            fig["from_html"] = sum(from_html for _, from_html in made.values())
        systems[name] = fig
    fig = measure("rapid-table", lambda: rapid_table(images))
    if fig.get("ok"):
        fig.update(score_tables(fig.pop("html"), refs))
    systems["rapid-table"] = fig
    return {"root": str(root), "tables": len(refs), "systems": systems}


def score_page(
    page: dict[str, Any], row: dict[str, Any] | None, use_html: bool, width: int
) -> dict:
    """One OmniDocBench page against docfleet's row of pages.jsonl (None: no page came out).

    ``width`` is the image's own width in pixels: the annotations' boxes are in the image's
    pixels, while ``page_info`` has width and height swapped on some pages."""
    info, elements = page["page_info"], page["layout_dets"]
    blocks = (row or {}).get("blocks") or []
    scale = width / row["width"] if row else 1.0
    apart = [poly_box(e["poly"]) for e in elements if e["category_type"] in NOT_TEXT]
    body_blocks = [
        b for b in shown_blocks(blocks) if not any(centre_in(b["bbox"], x, scale) for x in apart)
    ]
    body = Body(line for b in body_blocks for line in b["text"].split("\n"))
    refs = body_elements(elements)
    positions = [body.find(e["text"]) for e in refs]
    furniture = [e for e in elements if e["category_type"] in FURNITURE and e.get("text")]
    tables = [e for e in elements if e["category_type"] == "table"]
    made = [region_html(blocks, poly_box(t["poly"]), scale, use_html) for t in tables]
    pred = {str(i): h for i, (h, _) in enumerate(made)}
    scored = score_tables(pred, {str(i): t["html"] for i, t in enumerate(tables)})["tables"]
    return {
        "page": info["image_path"],
        "language": info["page_attribute"].get("language"),
        "missing": row is None,
        "text_edit": text_edit_distance(
            "\n".join(b["text"] for b in body_blocks), "\n".join(e["text"] for e in refs)
        ),
        "order_edit": order_edit_distance(positions),
        "blocks": len(refs),
        "blocks_found": sum(p is not None for p in positions),
        "furniture": len(furniture),
        "furniture_out": sum(body.find(e["text"]) is None for e in furniture),
        "tables": [
            {"teds": t["teds"], "teds_s": t["teds_s"], "from_html": from_html}
            for t, (_, from_html) in zip(scored, made, strict=True)
        ],
    }


def image_width(path: Path) -> int:
    """The width of an image in pixels, as stored (no EXIF turn: the demo's images have none)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.width


def summarise(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over pages (edit distances), shares over all elements (found, furniture out) and
    the mean TEDS over all tables."""
    orders = [p["order_edit"] for p in pages if p["order_edit"] is not None]
    tables = [t for p in pages for t in p["tables"]]
    blocks, furniture = sum(p["blocks"] for p in pages), sum(p["furniture"] for p in pages)
    return {
        "text_edit_mean": mean(p["text_edit"] for p in pages),
        "order_edit_mean": mean(orders) if orders else None,
        "blocks_found": sum(p["blocks_found"] for p in pages) / blocks if blocks else None,
        "blocks_total": blocks,
        "furniture_out": sum(p["furniture_out"] for p in pages) / furniture if furniture else None,
        "furniture_total": furniture,
        "tables": len(tables),
        "table_teds_mean": mean(t["teds"] for t in tables) if tables else None,
        "table_teds_s_mean": mean(t["teds_s"] for t in tables) if tables else None,
        "tables_from_html": sum(t["from_html"] for t in tables),
        "missing_pages": sum(p["missing"] for p in pages),
    }


def omnidocbench(root: Path, quick: bool, work: Path, timeout: float) -> dict[str, Any]:
    """The OmniDocBench demo pages through docfleet (and its tables pipeline when registered)."""
    pages = json.loads((root / "OmniDocBench_demo.json").read_text(encoding="utf-8"))
    pages = sorted(pages, key=lambda p: p["page_info"]["image_path"])
    pages = spread(pages, QUICK["omnidocbench"]) if quick else pages
    images = [root / "images" / p["page_info"]["image_path"] for p in pages]
    widths = [image_width(image) for image in images]
    systems: dict[str, Any] = {}
    for name, fig, use_html in docfleet_variants(images, work / "odb", timeout, systems):
        if fig.get("ok"):
            rows = fig.pop("rows")
            scored = [score_page(p, rows.get(p["page_info"]["image_path"]), use_html, w)
                      for p, w in zip(pages, widths, strict=True)]  # fmt: skip
            fig.update(summarise(scored), pages=scored)
        systems[name] = fig
    return {"root": str(root), "pages": len(pages), "systems": systems}


def docfleet_variants(
    images: list[Path], work: Path, timeout: float, systems: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """docfleet as a user runs it today, then with the tables stage where it is registered
    (else its row in ``systems`` says why not): each variant's name, figures (with its page
    records) and whether its tables' own HTML is scored."""
    has_tables, why = tables_stage()
    variants = {"docfleet": ([*DOCFLEET, "--pipeline", "layout+ocr"], False)}
    if has_tables:
        variants["docfleet+tables"] = ([*DOCFLEET, *TABLES_PIPELINE], True)
    else:
        systems["docfleet+tables"] = {"ok": False, "skipped": True, "error": f"skipped: {why}"}
    for name, (options, use_html) in variants.items():
        out = work.parent / f"{work.name}-{name}"
        fig = measure(name, lambda o=options, d=out: run_pages(images, d, o, timeout))
        yield name, fig, use_html


def best_docfleet(systems: dict[str, Any]) -> str:
    """The docfleet variant the targets are read on: the tables pipeline when it ran."""
    return "docfleet+tables" if systems.get("docfleet+tables", {}).get("ok") else "docfleet"


def checks(figures: dict[str, Any]) -> dict[str, bool | None]:
    """Each target as met (True), missed (False) or not measured (None)."""
    ptn = figures["pubtabnet"]["systems"]
    odb = figures["omnidocbench"]["systems"]
    d, peer = ptn[best_docfleet(ptn)], ptn.get("rapid-table", {})
    o = odb[best_docfleet(odb)]

    def above(key: str, target: float) -> bool | None:
        if not d.get("ok"):
            return None
        return d[key] >= target and (not peer.get("ok") or d[key] > peer[key])

    def at_least(key: str, target: float) -> bool | None:
        return None if not o.get("ok") or o.get(key) is None else o[key] >= target

    return {
        "pubtabnet_teds": above("teds_mean", TARGETS["pubtabnet_teds"]),
        "pubtabnet_teds_s": above("teds_s_mean", TARGETS["pubtabnet_teds_s"]),
        "omnidocbench_table_teds": at_least("table_teds_mean", TARGETS["omnidocbench_table_teds"]),
        "furniture_out": at_least("furniture_out", TARGETS["furniture_out"]),
        "blocks_found": at_least("blocks_found", TARGETS["blocks_found"]),
    }


PTN = (
    Column("PubTabNet-20", 16, "<"), Column("tables", 6), Column("TEDS", 6, gap=2),
    Column("TEDS-S", 6), Column("min TEDS", 8), Column("s/table", 7, gap=2),
    Column("startup", 7), Column("notes", align="<", gap=2),
)  # fmt: skip
PTN_TABLES = (
    Column("table", 22, "<"), Column("docfleet TEDS / S", 17, gap=2),
    Column("+tables TEDS / S", 16, gap=2), Column("rapid-table TEDS / S", 20, gap=2),
)  # fmt: skip
ODB = (
    Column("OmniDocBench", 16, "<"), Column("pages", 5), Column("text edit", 9, gap=2),
    Column("order edit", 10), Column("blocks found", 12, gap=2), Column("furniture out", 13),
    Column("table TEDS", 10, gap=2), Column("TEDS-S", 6), Column("s/page", 6, gap=2),
    Column("notes", align="<", gap=2),
)  # fmt: skip
ODB_PAGES = (
    Column("docfleet page", 44, "<"), Column("lang", 7, "<"), Column("text edit", 9),
    Column("order", 5), Column("found", 7), Column("furn. out", 9),
    Column("tables TEDS / S", align="<"),
)  # fmt: skip


def pair(fig: dict[str, Any], i: int) -> str:
    if not fig.get("ok"):
        return "-"
    t = fig["tables"][i]
    return f"{t['teds']:.3f} / {t['teds_s']:.3f}"


def report_pubtabnet(ptn: dict[str, Any], markdown: bool) -> None:
    table = Table(*PTN)
    for name, fig in ptn["systems"].items():
        if not fig.get("ok"):
            table.note(name, fig.get("error", "failed"))
            continue
        run_json = fig.get("run_seconds_per_page")
        note = f"run.json {run_json:.2f} s/table" if run_json is not None else ""
        if "from_html" in fig and name != "docfleet":
            note += f"  {fig['from_html']} of {len(fig['tables'])} from the stage's html"
        if fig["missing"]:
            note += f"  {fig['missing']} tables missing"
        table.add(name, str(len(fig["tables"])), fmt(fig["teds_mean"]), fmt(fig["teds_s_mean"]),
                  fmt(min(t["teds"] for t in fig["tables"])), f"{fig['seconds_per_page']:.2f}",
                  fmt(fig.get("startup_s"), 1), note)  # fmt: skip
    print(table.render(markdown))
    systems = [ptn["systems"][n] for n in ("docfleet", "docfleet+tables", "rapid-table")]
    per_table = Table(*PTN_TABLES)
    names = next((f["tables"] for f in systems if f.get("ok")), [])
    for i, t in enumerate(names):
        per_table.add(t["table"], *(pair(f, i) for f in systems))
    print(per_table.render(markdown))


def report_omnidocbench(odb: dict[str, Any], markdown: bool) -> None:
    table = Table(*ODB)
    for name, fig in odb["systems"].items():
        if not fig.get("ok"):
            table.note(name, fig.get("error", "failed"))
            continue
        found = f"{fmt(fig['blocks_found'], 3)} of {fig['blocks_total']}"
        furniture = f"{fmt(fig['furniture_out'], 3)} of {fig['furniture_total']}"
        note = f"{fig['tables']} tables"
        if name != "docfleet":
            note += f" ({fig['tables_from_html']} from the stage's html)"
        if fig.get("run_seconds_per_page") is not None:
            note += f"; run.json {fig['run_seconds_per_page']:.2f} s/page"
        if fig["missing_pages"]:
            note += f"; {fig['missing_pages']} pages missing"
        table.add(name, str(len(fig["pages"])), fmt(fig["text_edit_mean"], 3),
                  fmt(fig["order_edit_mean"], 3), found, furniture,
                  fmt(fig["table_teds_mean"], 3), fmt(fig["table_teds_s_mean"], 3),
                  f"{fig['seconds_per_page']:.2f}", note)  # fmt: skip
    print(table.render(markdown))
    for line in PUBLISHED:
        print(f"published (full set, v1.5: overall / text edit / table TEDS / order edit) {line}")
    d = odb["systems"]["docfleet"]
    if d.get("ok"):
        pages = Table(*ODB_PAGES)
        for p in d["pages"]:
            teds_ = " ".join(f"{t['teds']:.2f}/{t['teds_s']:.2f}" for t in p["tables"])
            name = p["page"] if len(p["page"]) <= 44 else f"{p['page'][:20]}...{p['page'][-21:]}"
            pages.add(name, str(p["language"])[:7], fmt(p["text_edit"], 3),
                      fmt(p["order_edit"], 2), f"{p['blocks_found']}/{p['blocks']}",
                      f"{p['furniture_out']}/{p['furniture']}", teds_)  # fmt: skip
        print(pages.render(markdown))


def report(figures: dict[str, Any], markdown: bool = False) -> None:
    ptn, odb = figures["pubtabnet"], figures["omnidocbench"]
    print(f"data    PubTabNet-20: {ptn['tables']} tables in {ptn['root']}")
    print(f"data    OmniDocBench demo: {odb['pages']} pages in {odb['root']}")
    report_pubtabnet(ptn, markdown)
    report_omnidocbench(odb, markdown)
    ok, t = figures["checks"], TARGETS
    p_name, o_name = best_docfleet(ptn["systems"]), best_docfleet(odb["systems"])
    p, o = ptn["systems"][p_name], odb["systems"][o_name]
    peer = ptn["systems"]["rapid-table"]
    lines = [
        (f"PubTabNet mean TEDS ({p_name}) {fmt(p.get('teds_mean'))} >= {t['pubtabnet_teds']} "
         f"and above rapid-table's {fmt(peer.get('teds_mean'))}", "pubtabnet_teds"),
        (f"PubTabNet mean TEDS-S ({p_name}) {fmt(p.get('teds_s_mean'))} >= "
         f"{t['pubtabnet_teds_s']} and above rapid-table's {fmt(peer.get('teds_s_mean'))}",
         "pubtabnet_teds_s"),
        (f"OmniDocBench table TEDS ({o_name}) {fmt(o.get('table_teds_mean'))} >= "
         f"{t['omnidocbench_table_teds']}", "omnidocbench_table_teds"),
        (f"OmniDocBench furniture out of the body ({o_name}) {fmt(o.get('furniture_out'))} >= "
         f"{t['furniture_out']}", "furniture_out"),
        (f"OmniDocBench text blocks found ({o_name}) {fmt(o.get('blocks_found'))} >= "
         f"{t['blocks_found']}", "blocks_found"),
    ]  # fmt: skip
    for text, key in lines:
        print(f"target  {text}: {verdict(ok[key])}")


def run_all(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = Path(args.data)
    figures: dict[str, Any] = {
        "pubtabnet": pubtabnet(data / "pubtabnet-examples", args.quick, work, args.timeout),
        "omnidocbench": omnidocbench(data / "omnidocbench-demo", args.quick, work, args.timeout),
        "targets": TARGETS,
        "published": PUBLISHED,
    }
    figures["checks"] = checks(figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help=f"the public-eval folder ({DATA})")
    parser.add_argument("--quick", action="store_true", help="5 tables and 4 pages")
    add_output_options(parser)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per docfleet run")
    parser.add_argument("--keep", action="store_true", help="keep docfleet's output folders")
    args = parser.parse_args()
    machine = print_machine()
    start = time.perf_counter()
    figures = {"machine": machine, "quick": args.quick}
    figures.update(in_work_folder("docfleet-structure-", args.keep, lambda w: run_all(args, w)))
    figures["wall_s"] = time.perf_counter() - start
    report(figures, args.markdown)
    print(f"took {figures['wall_s']:.0f} s")
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

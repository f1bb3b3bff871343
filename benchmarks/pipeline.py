"""Three models on CPU (layout, OCR, MiniLM embed): hand-written loops against docfleet's pools.

    python benchmarks/pipeline.py [--quick] [--corpus DIR] [--json PATH] [--markdown]
                                  [--timeout S] [--keep]

The same pages of benchmarks/scanned_corpus.py's corpus, rendered at 150 dpi for OCR, go
through render, layout, ocr, assemble and embed four ways, one after the other:
  sequential  a loop in a fresh process: docfleet's stages built and loaded on the CPU once,
              then called one page at a time, as a user chains the libraries
  batched     the same loop calling each stage on batches of 8 pages
  fused       ``docfleet run --pipeline layout+ocr+embed``: one replica per core, every model
              in each worker
  pinned      the same command with the pipeline as stage groups (groups.yml): render in
              threads, [layout, ocr] and [assemble, embed] each in one worker of its own
Every variant must give fused's texts, chunk counts and first vectors. Figures and targets are
described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import scanned_corpus
from common.corpora import SCANNED_CORPUS
from common.docfleet_run import run_docfleet, tail
from common.machine import print_machine
from common.report import Column, Table, add_output_options, cell, verdict, write_json
from common.timing import add_rates, in_work_folder

from docfleet.engine.devices import available_cores

DPI = 150
BATCH = 8  # pages per stage call in `batched`
QUICK_PDFS = 4  # the first 8 pages
VARIANTS = ("sequential", "batched", "fused", "pinned")
STAGES = ("render", "layout", "ocr", "assemble", "embed")
COMMON = ["--devices", "cpu", "--ocr", "always", "--dpi", str(DPI), "--no-progress", "--no-resume"]
FUSED = [*COMMON, "--pipeline", "layout+ocr+embed"]
GROUPS_YML = """\
cpu_threads: {threads}  # each model group on its share of the cores, not all of them
pipeline:
  - stages: [render]
    workers: thread
  - stages: [layout, ocr]
    devices: cpu
    replicas: 1
  - stages: [assemble, embed]
    devices: cpu
    replicas: 1
"""
VECTOR_TOLERANCE = 1e-4
TARGETS = {"fused_vs_sequential": 1.5}  # whole-command pages/s, on 2 cores or more
PINNED_NOTE = ("pinned: the real use is one group per GPU ([layout, ocr] on cuda:0, [assemble, "
               "embed] on cuda:1); on CPU both groups share the same cores, so the figure shows "
               "the cost of the hand-over (pages pickled between pools) and how evenly the "
               "groups split the work more than any gain")  # fmt: skip
Pages = dict[str, dict[str, Any]]  # "scan-00.pdf#1" -> text, chunks, vector


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """What is compared between variants: the text, the chunk count, the first vector."""
    chunks = record.get("chunks") or []
    return {"text": record.get("text") or "", "chunks": len(chunks),
            "vector": chunks[0]["vector"] if chunks else None}  # fmt: skip


def loop(pdfs: list[Path], batch: int) -> dict[str, Any]:
    """The loop a user writes around the stages: load each on the CPU once, call in turn."""
    began = time.perf_counter()
    from docfleet.documents.sources import expand_documents
    from docfleet.engine.devices import Device
    from docfleet.runtimes.warm import WarmModel
    from docfleet.stages.assemble import AssembleStage
    from docfleet.stages.embed import EmbedStage
    from docfleet.stages.layout import LayoutStage
    from docfleet.stages.ocr import OcrStage
    from docfleet.stages.render import RenderStage

    stages = {"render": RenderStage(dpi=DPI, ocr="always"), "layout": LayoutStage(),
              "ocr": OcrStage(), "assemble": AssembleStage(), "embed": EmbedStage()}  # fmt: skip
    device = Device.parse("cpu")
    for stage in stages.values():
        stage.load(device)
        for value in list(vars(stage).values()):  # models that load in the background
            if isinstance(value, WarmModel):
                value.get()
    startup = time.perf_counter() - began
    tasks = list(expand_documents(pdfs))
    seconds = dict.fromkeys(stages, 0.0)
    pages: Pages = {}
    for start in range(0, len(tasks), batch):
        items: list[Any] = tasks[start : start + batch]
        for name, stage in stages.items():
            t = time.perf_counter()
            items = stage(items)
            seconds[name] += time.perf_counter() - t
        for record in items:
            pages[f"{Path(record['document']).name}#{record['page']}"] = summary(record)
    wall = time.perf_counter() - began
    for stage in stages.values():
        stage.close()
    n = len(tasks)
    return {"ok": True, "pages": n, "loop_wall_s": wall, "startup_s": startup,
            "steady_pages_per_s": n / max(1e-9, wall - startup),
            "stage_seconds": {k: v / n for k, v in seconds.items()}, "records": pages}  # fmt: skip


def run_loop(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """``loop`` in a fresh interpreter (its imports and model loads count), timed around it."""
    out = work / f"{name}.json"
    script = str(Path(__file__).resolve())
    command = [sys.executable, script, "--loop", name, "--loop-out", str(out),
               "--corpus", args.corpus, *(["--quick"] if args.quick else [])]  # fmt: skip
    size = 1 if name == "sequential" else BATCH
    shown = f"python benchmarks/pipeline.py --loop {name} (batches of {size})"
    err = work / f"{name}.err"
    start = time.perf_counter()
    try:
        with open(err, "w") as stderr:
            proc = subprocess.run(command, stdout=stderr, stderr=stderr, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "command": shown, "error": f"timed out after {args.timeout:.0f} s"}
    wall = time.perf_counter() - start
    if proc.returncode or not out.exists():
        return {"ok": False, "command": shown, "error": f"exit code {proc.returncode}: {tail(err)}"}
    fig = json.loads(out.read_text())
    fig.update(command=shown, wall_s=wall, pages_per_s=fig["pages"] / wall)
    return fig


def run_command(name: str, inputs: list[Path], args: argparse.Namespace, work: Path) -> dict:
    """``docfleet run`` (fused, or pinned with groups.yml); the records of its pages.jsonl."""
    options = FUSED
    if name == "pinned":
        groups = work / "groups.yml"
        groups.write_text(GROUPS_YML.format(threads=max(1, available_cores() // 2)))
        options = [*COMMON, "--config", str(groups)]
    out = work / name
    fig = run_docfleet(inputs, out, options, timeout=args.timeout)
    fig.pop("texts", None)
    if not fig.get("ok"):
        return fig
    records: Pages = {}
    with open(out / "pages.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("status") == "ok":
                records[f"{Path(row['document']).name}#{row['page']}"] = summary(row)
    add_rates(fig, fig["pages_failed"] + len(records))
    fig["records"] = records
    return fig


def compare(mine: Pages, base: Pages) -> dict[str, Any]:
    """Pages whose text or chunk count differs from ``base``'s (or that are missing), and the
    largest difference of a first chunk's vector."""
    differ, worst = [], 0.0
    for key, want in base.items():
        got = mine.get(key)
        if got is None or got["text"] != want["text"] or got["chunks"] != want["chunks"]:
            differ.append(key)
        elif want["vector"] is not None:
            worst = max(
                worst, max(abs(a - b) for a, b in zip(got["vector"], want["vector"], strict=True))
            )
    differ += sorted(set(mine) - set(base))
    return {"pages_differing": len(differ), "differing": differ[:10], "max_vector_diff": worst,
            "same": not differ and worst <= VECTOR_TOLERANCE}  # fmt: skip


def run_all(args: argparse.Namespace, machine: dict[str, Any], work: Path) -> dict[str, Any]:
    corpus = scanned_corpus.load(Path(args.corpus), QUICK_PDFS if args.quick else None)
    inputs = corpus.pdfs if args.quick else [corpus.root / "scanned"]
    cores = machine["usable_cores"]
    figures: dict[str, Any] = {"machine": machine, "corpus": corpus.figures(args.quick)}
    records: dict[str, Pages] = {}
    for name in VARIANTS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            if name in ("sequential", "batched"):
                fig = run_loop(name, args, work)
            else:
                fig = run_command(name, inputs, args, work)
        except Exception as exc:  # one broken variant must not hide the others' figures
            fig = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        records[name] = fig.pop("records", {})
        figures[name] = fig
    figures["corpus"]["pages"] = max((f.get("pages", 0) for f in figures.values()), default=0)
    base, seq = figures["fused"], figures["sequential"]
    ratios: dict[str, float] = {}
    for name in VARIANTS:
        fig = figures[name]
        if base.get("ok") and fig.get("ok") and name != "fused":
            fig["check"] = compare(records[name], records["fused"])
        if seq.get("ok") and fig.get("ok") and name != "sequential":
            ratios[f"{name}_vs_sequential"] = fig["pages_per_s"] / seq["pages_per_s"]
            if "steady_pages_per_s" in fig:
                steady = fig["steady_pages_per_s"] / seq["steady_pages_per_s"]
                ratios[f"{name}_vs_sequential_steady"] = steady
    checked = [figures[n].get("check") for n in VARIANTS if n != "fused"]
    same = None if None in checked or not base.get("ok") else all(c["same"] for c in checked)
    speed = ratios.get("fused_vs_sequential")
    figures.update(ratios=ratios, targets=TARGETS, vector_tolerance=VECTOR_TOLERANCE)
    fine = all(figures[n].get("ok") and not figures[n].get("pages_failed") for n in VARIANTS)
    met = None if speed is None or cores < 2 else speed >= TARGETS["fused_vs_sequential"]
    figures["checks"] = {"same_output": same, "all_pages_ok": fine, "fused_vs_sequential": met}
    return figures


def same_as_fused(name: str, check: dict[str, Any] | None) -> str:
    if name == "fused":
        return "(reference)"
    if not check:
        return ""
    if check["same"]:
        return "yes"
    return (f"NO: {check['pages_differing']} pages differ {check['differing'][:3]}, "
            f"max vector diff {check['max_vector_diff']:.1e}")  # fmt: skip


def table(figures: dict[str, Any]) -> Table:
    """One line per variant: speeds, mean seconds per page by stage, ratios, same as fused."""
    columns = [Column("variant", 11, "<"), Column("pages", 5), Column("pages/s", 7),
               Column("steady", 7), Column("startup", 7),
               *(Column(s, 8, gap=2 if s == STAGES[0] else 1) for s in STAGES),
               Column("vs seq", 6, gap=2), Column("steady", 6),
               Column("same as fused", align="<", gap=2)]  # fmt: skip
    out, r = Table(*columns), figures["ratios"]
    for name in VARIANTS:
        fig = figures[name]
        if not fig.get("ok"):
            out.note(name, f"ERROR {fig.get('error')}")
            continue
        stages = fig.get("stage_seconds") or {}
        ratios = [r.get(f"{name}_vs_sequential"), r.get(f"{name}_vs_sequential_steady")]
        out.add(name, str(fig["pages"]), f"{fig['pages_per_s']:.2f}",
                f"{fig['steady_pages_per_s']:.2f}" if fig.get("steady_pages_per_s") else "-",
                cell(fig, "startup_s", ".1f"), *(cell(stages, s, ".3f") for s in STAGES),
                *(f"{x:5.2f}x" if x else "-" for x in ratios),
                same_as_fused(name, fig.get("check")))  # fmt: skip
    return out


def report(figures: dict[str, Any], markdown: bool = False) -> None:
    c, m = figures["corpus"], figures["machine"]
    print(f"corpus      {c['pages']} scanned pages in {c['pdfs']} PDFs at {DPI} dpi, {c['root']}; "
          f"{m['usable_cores']} usable cores")  # fmt: skip
    print(table(figures).render(markdown))
    print(
        "            stage columns: mean seconds per page (docfleet: pages.jsonl; loops: timed "
        "around each stage call)"
    )
    print(f"note        {PINNED_NOTE}")
    ok, speed = figures["checks"], figures["ratios"].get("fused_vs_sequential")
    print(
        f"target      fused / sequential {f'{speed:.2f}x' if speed else 'n/a'}, target >= "
        f"{TARGETS['fused_vs_sequential']}x on 2+ cores: {verdict(ok['fused_vs_sequential'])}"
    )
    print(
        f"check       same texts, chunk counts and first vectors (within {VECTOR_TOLERANCE}) "
        f"as fused everywhere: {verdict(ok['same_output'])}"
    )
    print(f"check       every variant ran, no page failed: {verdict(ok['all_pages_ok'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser)
    parser.add_argument("--quick", action="store_true", help="the first 8 pages only")
    parser.add_argument("--corpus", default=str(SCANNED_CORPUS), help="scanned_corpus.py's folder")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per variant")
    parser.add_argument("--keep", action="store_true", help="keep the output folders")
    parser.add_argument("--loop", choices=("sequential", "batched"), help=argparse.SUPPRESS)
    parser.add_argument("--loop-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:  # one loop variant, in the fresh process run_loop started
        corpus = scanned_corpus.load(Path(args.corpus), QUICK_PDFS if args.quick else None)
        fig = loop(corpus.pdfs, 1 if args.loop == "sequential" else BATCH)
        Path(args.loop_out).write_text(json.dumps(fig))
        return
    machine = print_machine(12)
    figures = in_work_folder(
        "docfleet-pipeline-bench-", args.keep, lambda w: run_all(args, machine, w)
    )
    report(figures, args.markdown)
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

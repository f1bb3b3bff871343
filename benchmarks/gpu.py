"""GPU scaling of the main job: docfleet run on 1..N GPUs, 1..R replicas per GPU, batch sizes.

    python benchmarks/gpu.py [--quick] [--pages N] [--replicas-list 1,2,4] [--batch-sizes 8,32]
                             [--backend torch|onnxruntime|both] [--dtype float16] [--device cpu]
                             [--pad-slack 0.25] [--pipeline STAGES] [--corpus DIR] [--markdown]
                             [--json PATH] [--allow-cpu-onnx] [--no-cpu] [--timeout S] [--keep]

The GPUs are found with ``docfleet.engine.discovery.discover_gpus`` (NVML or nvidia-smi; CUDA is
never initialised here). It runs ``docfleet run INPUT --ocr always --pipeline layout+ocr
--backend B`` (``--pipeline`` gives others: ``layout+ocr+tables``) as a subprocess on the first
k GPUs for every k, replica count and batch size, plus one CPU run for reference, over
``--pages`` pages of benchmarks/scanned_corpus.py's corpus (its PDFs cycled, each copy a hard
link or a copy under a new name), and prints one table. ``--backend torch`` (the default) runs
the layout and OCR networks in PyTorch, which needs no ``onnxruntime-gpu``; ``onnxruntime`` runs
are skipped, saying why, when ONNX Runtime lacks its CUDA provider (unless
``--allow-cpu-onnx``). With no GPU it says so and exits 0, so it is safe to run anywhere;
``--device cpu`` runs the same plan on the CPU instead (a smoke test of the whole benchmark on a
machine without GPUs). Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import scanned_corpus
from common.corpora import SCANNED_CORPUS, Key, Texts
from common.docfleet_run import read_run_json, run_docfleet
from common.machine import print_machine
from common.report import Column, Table, add_output_options, cell, write_json
from common.textfidelity import score
from common.timing import add_rates, in_work_folder

from docfleet.engine.discovery import discover_gpus

BASE = ["--ocr", "always", "--no-progress", "--no-resume"]  # and --pipeline (layout+ocr)
DEFAULT_PAGES, QUICK_PAGES = 256, 64
DEFAULT_REPLICAS, QUICK_REPLICAS = (1, 2, 4), (1, 2)
DEFAULT_BATCHES = (8, 32)
ONNX_FIX = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"
GIB = 1024**3


def onnx_providers() -> list[str]:
    """ONNX Runtime's execution providers in this environment ([] when it is not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def cycle_inputs(pdfs: list[Path], truth: Texts, pages: int, folder: Path) -> tuple[Texts, int]:
    """Fill ``folder`` with the PDFs in turn, renamed ``NNNN--name.pdf``, until ``pages`` pages.

    Copies are hard links where the file system allows (else real copies): docfleet reads a
    file reached twice through symbolic links once. Returns the truth of the copies' pages and
    the number of copies.
    """
    folder.mkdir(parents=True, exist_ok=True)
    per_pdf = {pdf.name: sorted(p for d, p in truth if d == pdf.name) for pdf in pdfs}
    copied: Texts = {}
    count = 0
    while len(copied) < pages:
        pdf = pdfs[count % len(pdfs)]
        name = f"{count:04d}--{pdf.name}"
        try:
            os.link(pdf, folder / name)
        except OSError:
            shutil.copyfile(pdf, folder / name)
        copied.update({(name, page): truth[pdf.name, page] for page in per_pdf[pdf.name]})
        count += 1
    return copied, count


def one_run(name: str, inputs: Path, out: Path, options: list[str], truth: Texts,
            timeout: float) -> dict[str, Any]:  # fmt: skip
    """``docfleet run`` once: speeds, words F1/CER, per device and per GPU figures of run.json."""
    keys: list[Key] = sorted(truth)
    fig = run_docfleet([inputs], out, [*BASE, *options], timeout=timeout)
    texts = fig.pop("texts", None)
    if texts is not None:
        add_rates(fig, len(keys))
        fig.update(score(texts, truth, keys))
        stats = read_run_json(out).get("stats") or {}
        fig["devices"] = stats.get("devices") or []
        fig["gpu_stats"] = stats.get("gpus")  # None: run.json has no GPU figures
    return {"name": name, **fig}


def derive(runs: list[dict[str, Any]]) -> None:
    """Add ``speedup`` (over 1 GPU x 1 replica of the same backend and batch size; the CPU run
    over the first backend's) and, to GPU runs, ``efficiency`` (pages/s over k times the
    pages/s of 1 GPU at the same replicas, backend and batch size), on the whole command and
    after start-up (``_steady``)."""
    done = [r for r in runs if r.get("ok")]
    one = {(r.get("backend"), r.get("batch"), r["replicas"]): r
           for r in done if r.get("gpus") == 1}  # fmt: skip
    first = next(iter(one), (None, None, None))
    for run in done:
        kind = (run.get("backend"), run.get("batch")) if run.get("gpus") else first[:2]
        for suffix, key in (("", "pages_per_s"), ("_steady", "steady_pages_per_s")):
            if key not in run:
                continue
            base = one.get((*kind, 1), {}).get(key)
            same = one.get((*kind, run.get("replicas")), {}).get(key)
            if base:
                run[f"speedup{suffix}"] = run[key] / base
            if same and run.get("gpus"):
                run[f"efficiency{suffix}"] = run[key] / (run["gpus"] * same)


def accuracy(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean words F1 over the runs that finished: lowest, highest and the spread."""
    f1 = {r["name"]: r["words_f1_mean"] for r in runs if "words_f1_mean" in r}
    if not f1:
        return {}
    return {"words_f1_mean_min": min(f1.values()), "words_f1_mean_max": max(f1.values()),
            "spread": max(f1.values()) - min(f1.values()), "per_run": f1}  # fmt: skip


def gpu_cell(run: dict[str, Any]) -> str:
    """``index:mean%/max% peakGiB/totalGiB`` per GPU, or ``-`` when run.json has no figures."""
    gpus = run.get("gpu_stats")
    if not gpus:
        return "-"

    def one(g: dict[str, Any]) -> str:
        mean, top = g.get("utilisation_mean"), g.get("utilisation_max")
        scale = 100 if top is not None and top <= 1 else 1  # a share of 1, or NVML's percent
        util = f"{mean * scale:.0f}%/{top * scale:.0f}%" if mean is not None and top else "-"
        used, total = g.get("memory_used_max_bytes"), g.get("memory_total_bytes")
        mem = f"{used / GIB:.1f}/{total / GIB:.0f}G" if used is not None and total else "-"
        return f"{g.get('index', '?')}:{util} {mem}"

    return ", ".join(one(g) for g in gpus)


TABLE = (
    Column("run", 16, "<"), Column("GPUs", 4), Column("R/dev", 5), Column("batch", 5),
    Column("pages", 5), Column("wall s", 7), Column("pages/s", 7), Column("steady", 7),
    Column("speed", 6), Column("eff.", 5), Column("eff.st", 6), Column("F1", 6),
    Column("failed", 6), Column("GPU util mean/max, peak/total memory", align="<", gap=2),
)  # fmt: skip


def add_row(table: Table, run: dict[str, Any]) -> None:
    gpus = str(run["gpus"]) if run.get("gpus") else "cpu"
    head = [run["name"], gpus, str(run.get("replicas") or "auto"), str(run.get("batch") or "auto")]
    if not run.get("ok"):
        table.note(*head, f"ERROR {run.get('error')}", gap=2)
        return
    failed = run.get("pages_failed", 0) + run.get("missing_pages", 0)
    table.add(*head, str(run["pages"]), f"{run['wall_s']:.1f}", f"{run['pages_per_s']:.2f}",
              cell(run, "steady_pages_per_s", ".2f"), cell(run, "speedup", ".2f"),
              cell(run, "efficiency", ".0%"), cell(run, "efficiency_steady", ".0%"),
              f"{run['words_f1_mean']:.4f}", str(failed), gpu_cell(run))  # fmt: skip


def report(figures: dict[str, Any], markdown: bool = False) -> None:
    c = figures["corpus"]
    print(f"corpus     {c['pages']} pages: {c['copies']} copies of {c['pdfs']} scanned PDFs "
          f"from {c['root']}")  # fmt: skip
    for gpu in figures["gpus"]:
        memory = gpu["memory_total_bytes"] / GIB
        print(f"gpu        cuda:{gpu['index']} {gpu['name']}, {memory:.0f} GiB")
    table = Table(*TABLE)
    for run in figures["runs"]:
        add_row(table, run)
    print(table.render(markdown))
    acc = figures["accuracy"]
    if acc:
        low, high = acc["words_f1_mean_min"], acc["words_f1_mean_max"]
        print(f"accuracy   words F1 mean {low:.4f} .. {high:.4f} across runs "
              f"(spread {acc['spread']:.4f})")  # fmt: skip


def skip(reason: str, figures: dict[str, Any], json_path: str | None) -> None:
    print(reason)
    write_json({**figures, "skipped": reason}, json_path)


def usable_backends(args: argparse.Namespace) -> list[str]:
    """The backends asked for that can run here: ``onnxruntime`` on GPUs only with ONNX
    Runtime's CUDA provider (or ``--allow-cpu-onnx``); the reason for any left out is printed."""
    wanted = ["torch", "onnxruntime"] if args.backend == "both" else [args.backend]
    providers = onnx_providers()
    if args.device == "cpu" or "CUDAExecutionProvider" in providers or args.allow_cpu_onnx:
        return wanted
    if "onnxruntime" in wanted:
        print(f"onnxruntime runs left out: ONNX Runtime has no CUDA provider (providers: "
              f"{', '.join(providers) or 'none'}), its models would run on the CPU; fix: "
              f"{ONNX_FIX}", file=sys.stderr)  # fmt: skip
    return [b for b in wanted if b != "onnxruntime"]


def run_all(args: argparse.Namespace, gpus: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    corpus = scanned_corpus.load(Path(args.corpus))
    inputs = work / "input"
    copied, copies = cycle_inputs(corpus.pdfs, corpus.truth, args.pages, inputs)
    figures: dict[str, Any] = {
        "gpus": gpus,
        "onnx_providers": onnx_providers(),
        "corpus": {
            "root": str(corpus.root),
            "reused": corpus.reused,
            "pdfs": len(corpus.pdfs),
            "copies": copies,
            "pages": len(copied),
            "quick": args.quick,
        },
        "replicas_list": list(args.replicas_list),
        "runs": [],
    }
    figures["backends"] = backends = args.backends
    counts = range(1, len(gpus) + 1) if gpus else [1]
    plan = [(b, k, r, n) for b in backends for k in counts for r in args.replicas_list
            for n in args.batch_sizes]  # fmt: skip
    for backend, k, r, batch in plan:
        devices = ",".join(f"cuda:{g['index']}" for g in gpus[:k]) if gpus else "cpu"
        name = f"{backend[:5]}-{'g' if gpus else 'c'}{k}x{r}b{batch}"
        print(f"running {name} ...", file=sys.stderr, flush=True)
        # the float small recogniser on both backends (the INT8 one is ONNX Runtime's on CPUs
        # alone): the runs on the CPU compare the same networks, as those on GPUs do
        options = ["--pipeline", args.pipeline, "--devices", devices, "--replicas", str(r),
                   "--batch-size", str(batch), "--backend", backend,
                   "--set", "ocr.small_precision=float32"]  # fmt: skip
        if args.pad_slack:
            options += ["--set", f"ocr.det_pad_slack={args.pad_slack}"]
        if backend == "torch" and args.dtype != "float32":
            options += ["--set", f"ocr.dtype={args.dtype}", "--set", f"layout.dtype={args.dtype}"]
        fig = one_run(name, inputs, work / name, options, copied, args.timeout)
        figures["runs"].append({**fig, "gpus": k if gpus else 0, "replicas": r, "batch": batch,
                                "backend": backend})  # fmt: skip
    if not args.no_cpu and gpus:
        print("running cpu ...", file=sys.stderr, flush=True)
        fig = one_run("cpu", inputs, work / "cpu", ["--devices", "cpu"], copied, args.timeout)
        figures["runs"].append({**fig, "gpus": 0, "replicas": None})
    derive(figures["runs"])
    figures["accuracy"] = accuracy(figures["runs"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser)
    parser.add_argument("--quick", action="store_true", help="64 pages, replicas 1,2")
    parser.add_argument("--corpus", default=str(SCANNED_CORPUS), help="scanned_corpus.py's folder")
    parser.add_argument("--pages", type=int, help=f"pages per run ({DEFAULT_PAGES})")
    parser.add_argument("--replicas-list", metavar="R,R", help="replicas per GPU (1,2,4)")
    parser.add_argument("--batch-sizes", metavar="N,N", default="8,32",
                        help="pages per batch to try (8,32)")  # fmt: skip
    parser.add_argument("--backend", choices=["torch", "onnxruntime", "both"], default="torch",
                        help="runtime of the layout and OCR models (torch)")  # fmt: skip
    parser.add_argument("--pipeline", default="layout+ocr",
                        help="the page stages (layout+ocr; layout+ocr+tables adds the table "
                        "model, in ONNX Runtime: on GPUs with onnxruntime-gpu)")  # fmt: skip
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                        help="precision of the torch backend's networks (float32)")  # fmt: skip
    parser.add_argument("--pad-slack", type=float, default=0.0,
                        help="pages of other sizes share a detector batch when padding adds at "
                        "most this share (ocr.det_pad_slack; 0)")  # fmt: skip
    parser.add_argument("--device", choices=["gpu", "cpu"], default="gpu",
                        help="cpu: the same plan on the CPU (smoke test without GPUs)")  # fmt: skip
    parser.add_argument("--allow-cpu-onnx", action="store_true",
                        help="run even when ONNX Runtime has no CUDA provider")  # fmt: skip
    parser.add_argument("--no-cpu", action="store_true", help="leave out the CPU run")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    parser.add_argument("--keep", action="store_true", help="keep the output folders")
    args = parser.parse_args()
    if args.pages is None:
        args.pages = QUICK_PAGES if args.quick else DEFAULT_PAGES
    if args.replicas_list:
        try:
            args.replicas_list = tuple(int(r) for r in args.replicas_list.split(","))
        except ValueError:
            parser.error(
                f"--replicas-list takes integers separated by commas, not {args.replicas_list!r}"
            )
    else:
        args.replicas_list = QUICK_REPLICAS if args.quick else DEFAULT_REPLICAS
    try:
        args.batch_sizes = tuple(int(n) for n in args.batch_sizes.split(","))
    except ValueError:
        parser.error(f"--batch-sizes takes integers separated by commas, not {args.batch_sizes!r}")
    if args.pages < 1 or min(args.replicas_list) < 1 or min(args.batch_sizes) < 1:
        parser.error("--pages, every replica count and every batch size must be at least 1")

    machine = print_machine(11)
    gpus: list[dict[str, Any]] = []
    if args.device == "gpu":
        found = discover_gpus()
        if not found.gpus:
            why = found.reason or f"{found.method} finds none"
            skip(f"no NVIDIA GPU, nothing to measure: {why} (--device cpu runs the plan on the "
                 "CPU)", {"machine": machine, "gpus": []}, args.json)  # fmt: skip
            return
        gpus = [{"index": g.index, "name": g.name, "uuid": g.uuid,
                 "memory_total_bytes": g.total_bytes} for g in found.gpus]  # fmt: skip
    args.backends = usable_backends(args)
    if not args.backends:
        skip("nothing to measure: no backend asked for can use the GPUs",
             {"machine": machine, "gpus": gpus}, args.json)  # fmt: skip
        return

    figures = {"machine": machine}
    figures.update(
        in_work_folder("docfleet-gpu-bench-", args.keep, lambda w: run_all(args, gpus, w))
    )
    report(figures, args.markdown)
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

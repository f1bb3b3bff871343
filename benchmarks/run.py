"""Main-job benchmark: OCR of scanned PDFs and text-layer extraction, pages/s and CER in one run.

    python benchmarks/run.py [--quick] [--corpus DIR] [--json run.json]

Variants, all on the same corpus (see benchmarks/corpus.py):
  naive        a hand-written loop in this process: pypdfium2 at 150 dpi, one RapidOCR engine
  replicas_1   docfleet run CORPUS/scanned --ocr always --pipeline ocr --devices cpu --replicas 1
  replicas_2   the same with --replicas 2
  render_only  pypdfium2 at 150 dpi, one process, every page: the upper bound for OCR
  digital      docfleet run CORPUS/digital --ocr auto --pipeline layout+ocr --devices cpu
  ray          replicas_2's command with --engine ray (no --replicas): a local Ray instance

A variant that fails is reported as an error; the others still run. Figures and targets are
described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import corpus as synthetic
import pypdfium2 as pdfium
from common.corpora import Texts, load_truth
from common.docfleet_run import run_docfleet
from common.machine import print_machine
from common.peers import rapidocr_loop
from common.report import add_output_options, verdict, write_json
from common.textfidelity import cer_figures
from common.timing import add_rates, in_work_folder

DPI = 150
VARIANTS = ("render_only", "naive", "replicas_1", "replicas_2", "digital", "ray")
TARGETS = {
    "replicas_2_vs_naive": 1.8,  # pages/s, whole command
    "replicas_1_vs_naive": 1.0,
    "digital_pages_per_s": 50.0,
    "cer_delta": 0.005,  # "same CER": docfleet's mean CER at most this much above naive's
}
FULL = {"scanned_docs": 10, "pages_per_doc": 4, "digital_docs": 10}
QUICK = {"scanned_docs": 3, "pages_per_doc": 4, "digital_docs": 3}


def documents(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pdf"))


def score(texts: Texts, truth: Texts, names: set[str]) -> dict[str, Any]:
    """Mean CER over every truth page of ``names``; a missing page counts as empty text."""
    keys = sorted(key for key in truth if key[0] in names)
    if not keys:
        raise ValueError(f"truth.jsonl has no pages for {sorted(names) or 'an empty folder'}")
    figures = cer_figures(texts, truth, keys)
    return {
        "cer": figures.pop("cer_mean"),
        **figures,
        "missing_pages": sum(key not in texts for key in keys),
    }


def render_only(folder: Path) -> dict[str, Any]:
    """Rasterise every page at 150 dpi in one process: the ceiling for any OCR pipeline."""
    start = time.perf_counter()
    pages = 0
    for path in documents(folder):
        document = pdfium.PdfDocument(path)
        for page in document:
            page.render(scale=DPI / 72).to_numpy()
            page.close()
            pages += 1
        document.close()
    wall = time.perf_counter() - start
    return {"ok": True, "pages": pages, "dpi": DPI, "wall_s": wall, "pages_per_s": pages / wall}


def naive(folder: Path, truth: Texts) -> dict[str, Any]:
    """The loop a team writes by hand: render a page, OCR it, join the lines; one engine."""
    fig = rapidocr_loop(documents(folder), DPI)
    texts = fig.pop("texts")
    add_rates(fig, len(texts))
    return {**fig, **score(texts, truth, {path.name for path in documents(folder)})}


def docfleet_run(
    folder: Path,
    out: Path,
    options: list[str],
    truth: Texts,
    timeout: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Time ``docfleet run`` as a subprocess and score its pages.jsonl against the truth."""
    fig = run_docfleet([folder], out, options, timeout=timeout, env=env)
    texts = fig.pop("texts", None)
    if texts is None:
        return fig
    if "startup_s" not in fig:
        error = fig.get("run_json_error", "no stats.startup_seconds")
        return {**fig, "ok": False, "error": f"unreadable run.json in {out}: {error}"}
    names = {path.name for path in documents(folder)}
    add_rates(fig, sum(1 for key in truth if key[0] in names))
    return {**fig, **score(texts, truth, names)}


def ray_run(
    folder: Path, out: Path, options: list[str], truth: Texts, timeout: float
) -> dict[str, Any]:
    """``docfleet run --engine ray`` on a Ray instance it starts itself; an error until it runs."""
    # RAY_ADDRESS=local: a fresh local instance, even where `ray start` left a cluster running
    env = {**os.environ, "RAY_ADDRESS": "local"}
    fig = docfleet_run(folder, out, [*options, "--engine", "ray"], truth, timeout, env)
    if fig["ok"] and fig["engine"] != "ray":
        engine = fig["engine"]
        return {**fig, "ok": False, "error": f"run.json says engine {engine!r}, not 'ray'"}
    return fig


def ratios(figures: dict[str, Any]) -> dict[str, Any]:
    """Speed-ups over the naive loop (whole command and after start-up) and CER differences."""
    out: dict[str, Any] = {}
    base = figures.get("naive", {})
    for name in ("replicas_1", "replicas_2"):
        run = figures.get(name, {})
        if base.get("ok") and run.get("ok"):
            out[f"{name}_vs_naive"] = run["pages_per_s"] / base["pages_per_s"]
            out[f"{name}_vs_naive_steady"] = run["steady_pages_per_s"] / base["steady_pages_per_s"]
            out[f"{name}_cer_delta"] = run["cer"] - base["cer"]
    ray, local = figures.get("ray", {}), figures.get("replicas_2", {})
    if ray.get("ok") and local.get("ok"):
        out["ray_vs_replicas_2"] = ray["pages_per_s"] / local["pages_per_s"]
        out["ray_vs_replicas_2_steady"] = ray["steady_pages_per_s"] / local["steady_pages_per_s"]
        out["ray_extra_startup_s"] = ray["startup_s"] - local["startup_s"]
        out["ray_cer_delta"] = ray["cer"] - local["cer"]
    if base.get("ok") and figures.get("render_only", {}).get("ok"):
        out["naive_vs_render_only"] = base["pages_per_s"] / figures["render_only"]["pages_per_s"]
    return out


def checks(figures: dict[str, Any]) -> dict[str, bool | None]:
    """Each target as met (True), missed (False) or not measured (None)."""
    r = figures["ratios"]

    def met(key: str, target: float) -> bool | None:
        return None if key not in r else r[key] >= target

    def same_cer(name: str) -> bool | None:
        key = f"{name}_cer_delta"
        return None if key not in r else r[key] <= TARGETS["cer_delta"]

    digital = figures.get("digital", {})
    return {
        "replicas_2_speedup": met("replicas_2_vs_naive", TARGETS["replicas_2_vs_naive"]),
        "replicas_2_same_cer": same_cer("replicas_2"),
        "replicas_1_not_slower": met("replicas_1_vs_naive", TARGETS["replicas_1_vs_naive"]),
        "replicas_1_same_cer": same_cer("replicas_1"),
        "digital_pages_per_s": (
            digital["pages_per_s"] >= TARGETS["digital_pages_per_s"] if digital.get("ok") else None
        ),
    }


def summary(name: str, fig: dict[str, Any] | None) -> str:
    """One printed line per variant: speed both ways, CER, failures, or its error."""
    if fig is None:
        return f"{name:<12} skipped"
    if not fig.get("ok", True):
        return f"{name:<12} ERROR {fig['error']}"
    text = f"{name:<12} {fig['pages']:4d} pages  {fig['pages_per_s']:7.2f} pages/s"
    if "run_pages_per_s" in fig:
        text += (f" (run.json {fig['run_pages_per_s']:.2f}, after start-up "
                 f"{fig['steady_pages_per_s']:.2f}, "
                 f"start-up {fig['startup_s']:.1f} s)")  # fmt: skip
    elif "steady_pages_per_s" in fig:
        text += (f" (after start-up {fig['steady_pages_per_s']:.2f}, "
                 f"start-up {fig['startup_s']:.1f} s)")  # fmt: skip
    if "cer" in fig:
        text += f"  CER {fig['cer']:.2%} (worst page {fig['cer_max']:.2%})"
    if fig.get("pages_failed") or fig.get("missing_pages"):
        text += f"  failed {fig.get('pages_failed', 0)}, missing {fig['missing_pages']}"
    return text


def report(figures: dict[str, Any]) -> None:
    c = figures["corpus"]
    print(f"corpus       {c['scanned_pages']} scanned pages, {c['digital_pages']} born-digital "
          f"pages in {c['root']}")  # fmt: skip
    for name in VARIANTS:
        print(summary(name, figures.get(name)))
    r, ok = figures["ratios"], figures["checks"]

    def ratio(key: str) -> str:
        return f"{r[key]:.2f}x" if key in r else "n/a"

    def delta(key: str) -> str:
        return f"{r[key]:+.2%}" if key in r else "n/a"

    print(f"target       replicas_2 / naive {ratio('replicas_2_vs_naive')} (after start-up "
          f"{ratio('replicas_2_vs_naive_steady')}), target >= {TARGETS['replicas_2_vs_naive']}x: "
          f"{verdict(ok['replicas_2_speedup'])}; CER {delta('replicas_2_cer_delta')} vs naive, "
          f"target <= +{TARGETS['cer_delta']:.2%}: "
          f"{verdict(ok['replicas_2_same_cer'])}")  # fmt: skip
    print(f"target       replicas_1 / naive {ratio('replicas_1_vs_naive')} (after start-up "
          f"{ratio('replicas_1_vs_naive_steady')}), target >= {TARGETS['replicas_1_vs_naive']}x: "
          f"{verdict(ok['replicas_1_not_slower'])}; CER {delta('replicas_1_cer_delta')} vs naive: "
          f"{verdict(ok['replicas_1_same_cer'])}")  # fmt: skip
    digital = figures.get("digital") or {}
    rate = f"{digital['pages_per_s']:.1f} pages/s" if digital.get("ok") else "n/a"
    print(f"target       digital {rate}, target >= {TARGETS['digital_pages_per_s']:.0f} pages/s: "
          f"{verdict(ok['digital_pages_per_s'])}")  # fmt: skip
    if "ray_vs_replicas_2" in r:
        startup = figures["ray"]["startup_s"]
        print(f"ray          ray / replicas_2 {ratio('ray_vs_replicas_2')} (after start-up "
              f"{ratio('ray_vs_replicas_2_steady')}); start-up {startup:.1f} s "
              f"({r['ray_extra_startup_s']:+.1f} s vs local); CER {delta('ray_cer_delta')} "
              "vs local")  # fmt: skip
    if "naive_vs_render_only" in r:
        print(f"ceiling      naive runs at {r['naive_vs_render_only']:.1%} of render-only speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser, markdown=False)
    parser.add_argument("--quick", action="store_true", help="a smaller corpus (a smoke test)")
    parser.add_argument(
        "--corpus", metavar="DIR", help="use (or build once into) DIR instead of a temp dir"
    )
    parser.add_argument(
        "--only", metavar="NAMES", help=f"comma-separated subset of {','.join(VARIANTS)}"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per docfleet run")
    parser.add_argument("--keep", action="store_true", help="keep docfleet's output folders")
    args = parser.parse_args()
    chosen = VARIANTS if not args.only else tuple(args.only.split(","))
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        parser.error(
            f"unknown variant(s) {', '.join(sorted(unknown))}; valid: {', '.join(VARIANTS)}"
        )
    machine = print_machine(13)
    figures = {"machine": machine}
    figures.update(in_work_folder("docfleet-bench-", args.keep, lambda w: run_all(args, chosen, w)))
    report(figures)
    write_json(figures, args.json)


def run_all(args: argparse.Namespace, chosen: tuple[str, ...], work: Path) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    root = Path(args.corpus) if args.corpus else work / "corpus"
    corpus = synthetic.load(root, **sizes)
    truth = load_truth(root / "truth.jsonl")
    scanned, digital = root / "scanned", root / "digital"
    figures: dict[str, Any] = {"corpus": corpus}
    common = ["--devices", "cpu", "--no-progress"]
    scanned_options = ["--ocr", "always", "--pipeline", "ocr", *common]
    runs = {
        "render_only": lambda: render_only(scanned),
        "naive": lambda: naive(scanned, truth),
        "replicas_1": lambda: docfleet_run(
            scanned, work / "replicas_1", [*scanned_options, "--replicas", "1"], truth, args.timeout
        ),
        "replicas_2": lambda: docfleet_run(
            scanned, work / "replicas_2", [*scanned_options, "--replicas", "2"], truth, args.timeout
        ),
        "ray": lambda: ray_run(scanned, work / "ray", scanned_options, truth, args.timeout),
        "digital": lambda: docfleet_run(
            digital,
            work / "digital",
            ["--ocr", "auto", "--pipeline", "layout+ocr", *common],
            truth,
            args.timeout,
        ),
    }
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            figures[name] = runs[name]()
        except Exception as exc:  # one broken variant must not hide the others' figures
            figures[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    figures["ratios"] = ratios(figures)
    figures["targets"] = TARGETS
    figures["checks"] = checks(figures)
    return figures


if __name__ == "__main__":
    main()

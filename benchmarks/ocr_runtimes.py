"""Which runtime reads scanned pages fastest on this CPU, and what the cascade can gain here.

    python benchmarks/ocr_runtimes.py [--corpus DIR] [--set hard|easy] [--pages N]
                                      [--only NAMES] [--json PATH] [--markdown]

On the first N pages of benchmarks/scanned_corpus.py's ``--set`` (200 dpi, as ``docfleet run``
renders them), in this process, one thread a session (as docfleet's CPU workers run them):

- each detector finds the lines of each page (ms a page);
- each recogniser reads every line the tiny detector found (ms a line, and ms per 100 px of
  the padded line at 48 px high: what a line costs by its width);
- on ONNX Runtime (docfleet's runtime on CPUs: its default session, as ``ort_session`` builds
  it, and with other session options), on OpenVINO in float32 (when ``openvino`` is installed)
  and on PyTorch (docfleet's torch backend, when ``torch`` and ``onnx`` are installed);
- ``same`` is the share of lines read exactly as ONNX Runtime's default session reads them
  (the INT8 small recogniser: as the float one reads them in ONNX Runtime).

Then the cascade's arithmetic on this CPU, from ONNX Runtime's readings: seconds a page (one
core) and words F1 against the known text for the tiny models alone, the line cascade (lines
whose mean probability is under 0.98 read again by the INT8 small recogniser), the *floor* of
any line rule (reading again exactly the lines the small recogniser reads differently: no rule
can spend less and end with the small recogniser's words) and the small recogniser alone.
Where INT8 runs no faster than float32 (CPUs without VNNI) the second reading costs several
tiny readings, and the floor says how far any trigger can take the cascade.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scanned_corpus
from common.corpora import SCANNED_CORPUS
from common.machine import print_machine
from common.report import Column, Table, add_output_options, write_json
from common.textfidelity import words_f1

CASCADE_BELOW = 0.98
#: name -> (what it runs, the model, how its session is made)
ROWS: dict[str, tuple[str, str, str]] = {
    "det_tiny_ort": ("detector", "tiny", "ort"),
    "det_tiny_ort_basic": ("detector", "tiny", "ort_basic"),
    "det_tiny_openvino": ("detector", "tiny", "openvino"),
    "det_tiny_torch": ("detector", "tiny", "torch"),
    "det_small_ort": ("detector", "small", "ort"),
    "det_small_openvino": ("detector", "small", "openvino"),
    "rec_tiny_ort": ("recogniser", "tiny", "ort"),
    "rec_tiny_ort_basic": ("recogniser", "tiny", "ort_basic"),
    "rec_tiny_ort_no_arena": ("recogniser", "tiny", "ort_no_arena"),
    "rec_tiny_ort_2_threads": ("recogniser", "tiny", "ort_2_threads"),
    "rec_tiny_openvino": ("recogniser", "tiny", "openvino"),
    "rec_tiny_torch": ("recogniser", "tiny", "torch"),
    "rec_small_ort": ("recogniser", "small", "ort"),
    "rec_small_openvino": ("recogniser", "small", "openvino"),
    "rec_small_torch": ("recogniser", "small", "torch"),
    "rec_small_int8_ort": ("recogniser", "small_int8", "ort"),
    "rec_small_int8_openvino": ("recogniser", "small_int8", "openvino"),
}


class OpenVinoSession:
    """An OpenVINO model on the CPU, one thread, float32, behind ONNX Runtime's ``run``."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import openvino

        core = openvino.Core()
        model = core.read_model(str(path))
        config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}  # fmt: skip
        self.compiled = core.compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.name = model.inputs[0].get_any_name()

    def get_inputs(self) -> list[Any]:
        return [argparse.Namespace(name=self.name)]

    def run(self, _: Any, feed: dict[str, Any]) -> list[Any]:
        return [self.request.infer(feed)[self.compiled.outputs[0]]]


def session(path: Path, how: str) -> Any:
    """A session for ``path``: ``ort`` (docfleet's CPU session, one thread), ``ort_basic`` (basic
    graph optimisations only), ``ort_no_arena``, ``ort_2_threads``, ``openvino``, ``torch``.
    ImportError names the package to install."""
    if how == "openvino":
        try:
            return OpenVinoSession(path)
        except ImportError as exc:
            raise ImportError("pip install openvino") from exc
    if how == "torch":
        import importlib.util

        if not (importlib.util.find_spec("torch") and importlib.util.find_spec("onnx")):
            raise ImportError("pip install torch onnx")
        import torch

        from docfleet.runtimes.torchnets.session import torch_session

        torch.set_num_threads(1)
        return torch_session(path, "cpu")
    import onnxruntime as ort

    from docfleet.engine.devices import Device
    from docfleet.runtimes.ocr.models import ort_session

    if how == "ort":
        return ort_session(path, Device.parse("cpu").with_slot(threads=1, replica=0))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 2 if how == "ort_2_threads" else 1
    options.enable_cpu_mem_arena = how != "ort_no_arena"
    if how == "ort_basic":
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(path), sess_options=options,
                                providers=["CPUExecutionProvider"])  # fmt: skip


def model_path(part: str, model: str) -> Path:
    from docfleet.runtimes.ocr.models import model_files

    tier = "tiny" if model == "tiny" else "small"
    files = model_files(tier, int8=model == "small_int8")  # type: ignore[arg-type]
    return files.detector if part == "detector" else files.recogniser


def load_pages(corpus: Path, which: str, count: int) -> tuple[list[Any], list[str]]:
    """The first ``count`` pages of the set as images (straightened where tilted, as
    ``docfleet run`` straightens them), and their known text."""
    from docfleet.documents.pdf import render_pdf_page
    from docfleet.documents.skew import skew_angle, straighten

    records = [json.loads(line) for line in (corpus / "truth.jsonl").read_text().splitlines()]
    keys = sorted((r["document"], r["page"]) for r in records)[:count]
    truth = {(r["document"], r["page"]): r["text"] for r in records}
    folder = corpus / scanned_corpus.LOOKS[which].folder
    images = [render_pdf_page(folder / name, number, dpi=200)[0] for name, number in keys]
    straight = [straighten(image, skew_angle(image, 200)) for image in images]  # as docfleet does
    return straight, [truth[k] for k in keys]


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = function()
    return out, time.perf_counter() - start


def measure(images: list[Any], names: list[str]) -> dict[str, Any]:
    """Each row's figures; the lines (per page) and ONNX Runtime's readings for the arithmetic."""
    from docfleet.runtimes.ocr.detect import Detector
    from docfleet.runtimes.ocr.models import characters_of, model_files
    from docfleet.runtimes.ocr.recognize import Recognizer, crop_line, padded_width

    finder = Detector(session(model_files("tiny").detector, "ort"))
    lines = [[crop_line(image, q) for q in finder(image)] for image in images]
    crops = [c for page in lines for c in page]
    pixels = sum(padded_width(c) for c in crops)
    rows: dict[str, dict[str, Any]] = {}
    readings: dict[str, list[Any]] = {}
    for name in names:
        part, model, how = ROWS[name]
        try:
            made = session(model_path(part, model), how)
        except ImportError as exc:
            rows[name] = {"error": f"not installed: {exc}"}
            continue
        if part == "detector":
            detector = Detector(made)
            detector(images[0])
            _, seconds = timed(lambda d=detector: [d(im) for im in images])
            rows[name] = {"ms_per_page": 1000 * seconds / len(images)}
            continue
        tier = "tiny" if model == "tiny" else "small"
        characters = characters_of(session(model_files(tier).recogniser, "ort"), model_files(tier))
        reader = Recognizer(made, characters)
        reader.read(crops[:8])
        read, seconds = timed(lambda r=reader: r.read(crops))
        rows[name] = {"ms_per_line": 1000 * seconds / len(crops),
                      "ms_per_100px": 1e5 * seconds / pixels}  # fmt: skip
        readings[name] = read
    for name, row in rows.items():
        part, model, how = ROWS[name]
        against = "small" if model == "small_int8" else model  # INT8 against float32
        base = f"{'det' if part == 'detector' else 'rec'}_{against}_ort"
        key = "ms_per_page" if part == "detector" else "ms_per_line"
        if "error" not in row and base in rows and "error" not in rows[base]:
            row["vs_ort"] = rows[base][key] / row[key]
        if name in readings and base in readings:
            pairs = zip(readings[base], readings[name], strict=True)
            row["same"] = sum(a.text == b.text for a, b in pairs) / len(crops)
    return {"rows": rows, "readings": readings, "lines": lines, "line_count": len(crops)}


def arithmetic(data: dict[str, Any], truth: list[str]) -> list[dict[str, Any]]:
    """Seconds a page (one core) and words F1 of each way of reading, from the measured rows."""
    from docfleet.runtimes.ocr.recognize import padded_width

    rows, readings, lines = data["rows"], data["readings"], data["lines"]
    need = ("det_tiny_ort", "rec_tiny_ort", "rec_small_int8_ort")
    if any("error" in rows.get(n, {"error": "not measured"}) for n in need):
        return []
    tiny, small = readings["rec_tiny_ort"], readings["rec_small_int8_ort"]
    widths = [padded_width(c) for page in lines for c in page]
    small_ms = rows["rec_small_int8_ort"]["ms_per_100px"] / 100
    base = (rows["det_tiny_ort"]["ms_per_page"] * len(lines)
            + rows["rec_tiny_ort"]["ms_per_line"] * len(tiny))  # fmt: skip
    rules = {
        "tiny alone": [False] * len(tiny),
        f"line cascade (<{CASCADE_BELOW})": [r.score < CASCADE_BELOW for r in tiny],
        "floor: only the lines read differently": [
            a.text != b.text for a, b in zip(tiny, small, strict=True)
        ],
        "the small recogniser on every line": [True] * len(tiny),
    }
    out = []
    for rule, chosen in rules.items():
        cost = base + sum(w for w, c in zip(widths, chosen, strict=True) if c) * small_ms
        f1, start = [], 0
        for page, text in zip(lines, truth, strict=True):
            picked = [(small if chosen[i] else tiny)[i].text
                      for i in range(start, start + len(page))]  # fmt: skip
            f1.append(words_f1("\n".join(picked), text))
            start += len(page)
        out.append({"rule": rule, "reread": sum(chosen) / max(len(chosen), 1),
                    "s_per_page": cost / 1000 / len(lines),
                    "words_f1_median": statistics.median(f1),
                    "words_f1_mean": statistics.fmean(f1)})  # fmt: skip
    return out


def report(data: dict[str, Any], rules: list[dict[str, Any]], markdown: bool) -> None:
    table = Table(Column("row", 24, "<"), Column("ms/page", 8), Column("ms/line", 8),
                  Column("ms/100px", 8), Column("vs ort", 7), Column("same", 6))  # fmt: skip
    for name, row in data["rows"].items():
        if "error" in row:
            table.note(name, row["error"])
            continue
        table.add(
            name, *(f"{row[k]:.1f}" if k in row else "" for k in ("ms_per_page", "ms_per_line")),
            f"{row['ms_per_100px']:.2f}" if "ms_per_100px" in row else "",
            f"{row['vs_ort']:.2f}x" if "vs_ort" in row else "",
            f"{row['same']:.3f}" if "same" in row else "",
        )  # fmt: skip
    print(table.render(markdown))
    if not rules:
        return
    plan = Table(Column("reading", 40, "<"), Column("reread", 7), Column("s/page", 7),
                 Column("F1 median", 9), Column("mean", 6))  # fmt: skip
    for r in rules:
        plan.add(r["rule"], f"{100 * r['reread']:.0f}%", f"{r['s_per_page']:.2f}",
                 f"{r['words_f1_median']:.3f}", f"{r['words_f1_mean']:.3f}")  # fmt: skip
    print(plan.render(markdown))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=SCANNED_CORPUS,
                        help="scanned_corpus.py's folder")  # fmt: skip
    parser.add_argument("--set", choices=("hard", "easy"), default="hard")
    parser.add_argument("--pages", type=int, default=8, help="the first N pages (default 8)")
    parser.add_argument("--only", help=f"comma-separated rows of: {', '.join(ROWS)}")
    add_output_options(parser)
    args = parser.parse_args(argv)
    names = list(ROWS) if not args.only else args.only.split(",")
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        parser.error(f"unknown rows {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    if not (args.corpus / "truth.jsonl").is_file():
        parser.error(f"{args.corpus} has no truth.jsonl; build it: "
                     f"python benchmarks/scanned_corpus.py --out {args.corpus}")  # fmt: skip
    machine = print_machine()
    images, truth = load_pages(args.corpus, args.set, args.pages)
    data = measure(images, names)
    print(f"{args.set} set, {len(images)} pages, {data['line_count']} lines, one thread a session")
    rules = arithmetic(data, truth)
    report(data, rules, args.markdown)
    write_json({"machine": machine, "set": args.set, "pages": len(images),
                "lines": data["line_count"], "rows": data["rows"], "reading": rules},
               args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

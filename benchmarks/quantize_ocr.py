"""Builds the INT8 small recogniser docfleet ships (``runtimes/weights/ppocrv6_small_int8``) from
rapidocr's PP-OCRv6 small recogniser, and checks it against the float one.

    python benchmarks/quantize_ocr.py [--real DIR] [--scanned DIR] [--out PATH] [--check-only]

Static post-training quantisation with ONNX Runtime (QDQ format), to make the cascade's second
reading cheaper on CPUs:

- only convolutions (77% of the float model's time on a CPU) are quantised: weights per channel
  as int8 with 7 bits (``reduce_range``: no int16 saturation in the AVX2 kernels of CPUs without
  VNNI), activations as uint8 with MinMax ranges;
- the convolutions on one pooled value per channel or giving a gate (the squeeze-and-excitation
  blocks', and the neck's pooled branch: no time to save) stay float;
- the calibration lines: 200 lines, drawn from the tiny detector's lines of 30 pages of the
  real corpus (``real_corpus.py``) that are not among the scanned benchmark's pages, each
  printed and scanned again as ``scanned_corpus.py`` does (the hard look for 70% of them, the
  easy one for the rest);
- the GELU activations that quantisation leaves as five operators are fused back into one.

Histogram calibration (percentile, entropy), quantising the matrix products too, the tiny
recogniser or the detector were measured and left out: see benchmarks/README.md.

With ``--check-only`` the model is not built; both models read every line of the hard scanned
set and the script prints ms per line, words F1 and the share of lines read the same.
Needs ``onnx`` (``pip install onnx``) besides docfleet's CPU extra.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scanned_corpus
from common.corpora import REAL_CORPUS, SCANNED_CORPUS
from common.machine import print_machine
from common.textfidelity import words_f1

SEED = 7
CALIBRATION_PAGES = 30
CALIBRATION_LINES = 200
HARD_SHARE = 0.7
OUT = (
    Path(__file__).resolve().parent.parent
    / "src/docfleet/runtimes/weights/ppocrv6_small_int8/rec.onnx"
)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _lines(image: np.ndarray, detector: Any) -> list[np.ndarray]:
    from docfleet.runtimes.ocr.recognize import crop_line

    image = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    return [crop_line(image, quad) for quad in detector(image)]


def calibration_lines(real: Path, scanned: Path) -> list[np.ndarray]:
    """Lines of real pages the scanned benchmark does not hold, printed and scanned again."""
    import pypdfium2 as pdfium

    from docfleet.runtimes.ocr.detect import Detector
    from docfleet.runtimes.ocr.models import model_files

    detector = Detector(_session(model_files("tiny").detector))
    manifest = json.loads((scanned / "manifest.json").read_text())
    used = {f["source"] for f in manifest["scanned"]["files"]}
    pages = []
    for pdf in sorted((real / "text").glob("*.pdf")):
        count = len(pdfium.PdfDocument(pdf))
        pages += [(pdf, n) for n in range(1, count + 1) if f"{pdf.name}#{n}" not in used]
    draw, noise = random.Random(SEED), np.random.default_rng(SEED)
    draw.shuffle(pages)
    lines: list[np.ndarray] = []
    for pdf, n in pages[:CALIBRATION_PAGES]:
        dpi = draw.choice(scanned_corpus.HARD.dpi)
        image = pdfium.PdfDocument(pdf)[n - 1].render(scale=dpi / 72).to_pil()
        look = scanned_corpus.HARD if draw.random() < HARD_SHARE else scanned_corpus.EASY
        printed, _angle = scanned_corpus.scan_look(image, noise, look, dpi)
        lines += _lines(np.asarray(printed.convert("RGB")), detector)
    random.Random(1).shuffle(lines)
    return lines[:CALIBRATION_LINES]


def squeeze_excite_convs(model: Any) -> list[str]:
    """Convolutions on a pooled value per channel, or giving a channel gate."""
    made = {out: node for node in model.graph.node for out in node.output}
    used: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            used.setdefault(name, []).append(node)
    found = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        source = made.get(node.input[0])
        gates = [n.op_type for n in used.get(node.output[0], [])]
        if (source is not None and source.op_type in ("ReduceMean", "GlobalAveragePool")) or any(
            g in ("HardSigmoid", "Sigmoid") for g in gates
        ):
            found.append(node.name)
    return found


def fuse_gelu(model: Any) -> int:
    """``x * 0.5 * (1 + erf(x / sqrt 2))`` as five operators becomes one GELU (ONNX Runtime's
    own fusion does not see through the quantised graph); the number fused."""
    from onnx import helper

    graph = model.graph
    made = {out: node for node in graph.node for out in node.output}
    used: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            used.setdefault(name, []).append(node)

    outputs = {out.name for out in graph.output}

    def only(name: str, op: str) -> Any:
        """The one node reading ``name``, when it is an ``op`` and nothing else sees ``name``."""
        after = used.get(name, [])
        alone = len(after) == 1 and name not in outputs
        return after[0] if alone and after[0].op_type == op else None

    dropped: set[int] = set()
    replaced: dict[int, Any] = {}
    for erf in [n for n in graph.node if n.op_type == "Erf"]:
        div = made.get(erf.input[0])
        add = only(erf.output[0], "Add")
        first = add and only(add.output[0], "Mul")
        last = first and only(first.output[0], "Mul")
        if (
            div is None
            or div.op_type != "Div"
            or only(div.output[0], "Erf") is None
            or last is None
            or div.input[0] not in first.input
        ):
            continue
        dropped |= {id(div), id(erf), id(add), id(first)}
        gelu = helper.make_node("Gelu", [div.input[0]], [last.output[0]], name=f"{erf.name}_gelu",
                                domain="com.microsoft")  # fmt: skip
        replaced[id(last)] = gelu
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replaced)


def prepare(source: Path, out: Path) -> Any:
    """The float model as quantisation starts from it, saved at ``out``: ONNX Runtime's own
    preparation (batch norms and biases folded into the convolutions), at opset 17 (per-channel
    scales need 13; the model comes at 11)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(source), str(out), skip_symbolic_shape=True)
    model = version_converter.convert_version(onnx.load(str(out)), 17)
    onnx.save(model, str(out))
    return model


def build(lines: list[np.ndarray], out: Path) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from docfleet.runtimes.ocr.models import model_files
    from docfleet.runtimes.ocr.recognize import _normalise, padded_width

    source = model_files("small").recogniser
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        model = prepare(source, prepared)
        name = model.graph.input[0].name
        feed = iter(lines)

        class Lines(CalibrationDataReader):
            def get_next(self) -> dict[str, np.ndarray] | None:
                crop = next(feed, None)
                return None if crop is None else {name: _normalise(crop, padded_width(crop))[None]}

        quantised = Path(tmp) / "quantised.onnx"
        quantize_static(
            str(prepared), str(quantised), Lines(), quant_format=QuantFormat.QDQ,
            per_channel=True, reduce_range=True, op_types_to_quantize=["Conv"],
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=squeeze_excite_convs(model),
            extra_options={"CalibMovingAverage": True},
        )  # fmt: skip
        result = onnx.load(str(quantised))
    fused = fuse_gelu(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(result, str(out))
    return {"gelu_fused": fused, "bytes": out.stat().st_size,
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}  # fmt: skip


def check(scanned: Path, out: Path) -> dict[str, Any]:
    """Both recognisers over every line of the hard set (found by the tiny detector)."""
    from docfleet.documents.pdf import render_pdf_page
    from docfleet.runtimes.ocr.detect import Detector
    from docfleet.runtimes.ocr.models import characters_of, model_files
    from docfleet.runtimes.ocr.recognize import Recognizer

    files = model_files("small")
    float_session = _session(files.recogniser)
    characters = characters_of(float_session, files)
    detector = Detector(_session(model_files("tiny").detector))
    records = map(json.loads, (scanned / "truth.jsonl").read_text().splitlines())
    truth = {(r["document"], r["page"]): r["text"] for r in records}
    folder = scanned / scanned_corpus.HARD.folder
    pages = {key: _lines(render_pdf_page(folder / key[0], key[1], dpi=200)[0], detector)
             for key in sorted(truth)}  # fmt: skip
    texts, report = {}, {}
    for label, session in (("float32", float_session), ("int8", _session(out))):
        reader = Recognizer(session, characters)
        start = time.perf_counter()
        texts[label] = {key: [r.text for r in reader.read(lines)] for key, lines in pages.items()}
        seconds = time.perf_counter() - start
        f1 = sorted(words_f1("\n".join(texts[label][k]), truth[k]) for k in pages)
        count = sum(len(lines) for lines in pages.values())
        report[label] = {"ms_per_line": round(1000 * seconds / count, 2),
                         "words_f1_mean": round(sum(f1) / len(f1), 4),
                         "words_f1_median": round(f1[len(f1) // 2], 4), "lines": count}  # fmt: skip
    same = sum(
        a == b for k in pages for a, b in zip(texts["float32"][k], texts["int8"][k], strict=True)
    )
    report["same_lines"] = round(same / report["int8"]["lines"], 4)
    report["speed_up"] = round(report["float32"]["ms_per_line"] / report["int8"]["ms_per_line"], 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, default=REAL_CORPUS)
    parser.add_argument("--scanned", type=Path, default=SCANNED_CORPUS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check-only", action="store_true")
    args = parser.parse_args()
    print_machine()
    if not args.check_only:
        lines = calibration_lines(args.real, args.scanned)
        print(json.dumps(build(lines, args.out)), flush=True)
    print(json.dumps(check(args.scanned, args.out), indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()

"""The OCR and layout models in PyTorch (docfleet.runtimes.torchnets) against ONNX Runtime, same
inputs.

    python benchmarks/torch_parity.py [--pages N] [--dpi DPI] [--repeat R] [--device DEV]
                                      [--dtype DTYPE] [--threads T] [--markdown]

On the first pages of the real PDFs in tests/data/real, per model (PP-OCRv6 tiny and small
detector and recogniser, the CDLA layout model), the network's own input as docfleet builds it
(a page for the detector, the page's text lines at one padded width for the recogniser, the
800 x 608 page for layout) goes through both; printed per model: the largest absolute
difference of the outputs, and the median seconds per call of each (after one warm-up call).
ONNX Runtime runs on the CPU; torch on ``--device`` (with a GPU, the times include the copies
to and from it, as ``TorchSession.run`` makes them).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from common.machine import print_machine
from common.report import Column, Table
from common.timing import median_seconds

from docfleet.documents.pdf import render_pdf_page
from docfleet.engine.devices import Device
from docfleet.runtimes.ocr.detect import Detector
from docfleet.runtimes.ocr.models import model_files, ort_session
from docfleet.runtimes.ocr.recognize import _normalise as normalise_crop
from docfleet.runtimes.ocr.recognize import crop_line, padded_width
from docfleet.runtimes.torchnets import torch_session
from docfleet.runtimes.torchnets.layout import layout_model_path

REAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "real"


def model_inputs(pages: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """The networks' inputs for each page, by model name."""
    import cv2

    cpu = Device.parse("cpu")
    inputs: dict[str, list[np.ndarray]] = {}
    for tier in ("tiny", "small"):
        files = model_files(tier)
        detector = Detector(ort_session(files.detector, cpu))
        inputs[f"det_{tier}"] = [detector._prepare(p)[0] for p in pages]
        recs = []
        for page in pages:
            crops = [crop_line(page, q) for q in detector(page)][:16]
            width = max(padded_width(c) for c in crops)
            recs.append(np.stack([normalise_crop(c, width) for c in crops]))
        inputs[f"rec_{tier}"] = recs
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    inputs["layout"] = [
        ((cv2.resize(p, (608, 800)).astype(np.float32) / 255.0 - mean) / std)
        .astype(np.float32).transpose(2, 0, 1)[np.newaxis]
        for p in pages
    ]  # fmt: skip
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=3, help="real pages to run (default 3)")
    parser.add_argument("--dpi", type=float, default=150)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per input")
    parser.add_argument("--device", default="cpu", help="torch's device (default cpu)")
    parser.add_argument("--dtype", default="float32", help="float32, float16 or bfloat16")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: the default)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    print_machine()

    import onnxruntime as ort
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    files = sorted(REAL.glob("*.pdf"))[: args.pages]
    pages = [render_pdf_page(f, 1, dpi=args.dpi)[0] for f in files]
    print(f"{len(pages)} pages at {args.dpi:g} dpi: {', '.join(f.name for f in files)}")
    paths = {"layout": layout_model_path()}
    for tier in ("tiny", "small"):
        paths[f"det_{tier}"] = model_files(tier).detector
        paths[f"rec_{tier}"] = model_files(tier).recogniser
    options = ort.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    table = Table(Column("model", 10, "<"), Column("max |diff|", 11), Column("ort s", 8),
                  Column("torch s", 8), Column("torch/ort", 9))  # fmt: skip
    for name, batches in model_inputs(pages).items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        reference = ort.InferenceSession(str(paths[name]), options, ["CPUExecutionProvider"])
        session = torch_session(paths[name], args.device, args.dtype)
        key = reference.get_inputs()[0].name
        # all ORT calls, then all torch calls: each library's idle threads spin for a while
        # after a call, and on a small machine they would slow down the other's next call
        want = [median_seconds(partial(reference.run, None, {key: b}), args.repeat)
                for b in batches]  # fmt: skip
        time.sleep(0.5)
        got = [median_seconds(partial(session.run, None, {key: b}), args.repeat)
               for b in batches]  # fmt: skip
        time.sleep(0.5)
        diff = max(
            float(np.abs(w - g).max())
            for (ws, _), (gs, _) in zip(want, got, strict=True)
            for w, g in zip(ws, gs, strict=True)
        )
        ort_s, torch_s = [s for _, s in want], [s for _, s in got]
        o, t = sum(ort_s) / len(ort_s), sum(torch_s) / len(torch_s)
        table.add(name, f"{diff:.2e}", f"{o:.3f}", f"{t:.3f}", f"{t / o:.2f}")
    print(table.render(args.markdown))


if __name__ == "__main__":
    main()

"""OCR of one page: detect lines, read them with the tier's recogniser, and, in the cascade, read
the lines the tiny recogniser is unsure of again with the small one.

Tiers (``model``):

- ``small``: PP-OCRv6 small detector and recogniser (what rapidocr ships);
- ``tiny``: PP-OCRv6 tiny detector and recogniser (several times faster on CPU, a little less
  accurate);
- ``cascade``: the tiny detector and recogniser; a line read with confidence below
  ``cascade_below`` is read again by the small recogniser, whose reading replaces it (measured:
  the small reading is the better one more often than it is the more confident one); with
  ``reread="span"``, only the words holding a character read with probability below
  ``span_below`` are read again (:mod:`docfleet.runtimes.ocr.spans`).

``detector`` picks the tier whose detector finds the lines (by default the tier's own: the
tiny one for the cascade). With ``small_int8`` the small recogniser (the cascade's second
reader, or the ``small`` tier's) is its INT8 quantisation, for ONNX Runtime on CPUs: twice
as fast on CPUs with VNNI, as fast as float32 on CPUs with AVX2 alone, words F1 within 0.2
points on the hard scans (``benchmarks/quantize_ocr.py``, ``benchmarks/ocr_runtimes.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np

from docfleet.engine.devices import Device
from docfleet.runtimes.ocr.detect import Detector, DetectorSettings
from docfleet.runtimes.ocr.models import Backend, Tier, characters_of, model_files, model_session
from docfleet.runtimes.ocr.recognize import Reading, Recognizer, crop_line
from docfleet.runtimes.ocr.spans import Span, inside, span_crop, spliced, unsure_spans, word_key

OcrModel = Literal["tiny", "small", "cascade"]
Reread = Literal["line", "span"]


@dataclass
class OcrLine:
    """A line read from a page: its quadrilateral in page pixels, text and confidence; ``model``
    is the recogniser whose reading was kept."""

    quad: np.ndarray
    text: str
    score: float
    model: str


@dataclass
class OcrTimes:
    """Seconds spent per step on the last page, and how many lines the cascade read again."""

    detect: float = 0.0
    recognise: float = 0.0
    second_pass: float = 0.0
    lines: int = 0
    reread: int = 0


class PageOcr:
    """Reads the text lines of RGB pages with the models of ``model`` on ``device``, run by
    ONNX Runtime or, with ``backend="torch"``, by the same networks in PyTorch."""

    def __init__(
        self,
        model: OcrModel,
        device: Device,
        *,
        det_max_side: int = 1280,
        det_pad_slack: float = 0.0,
        rec_batch: int = 8,
        rec_pad_tolerance: int = 0,
        cascade_below: float = 0.98,
        reread: Reread = "line",
        span_below: float = 0.9,
        gpu_mem_limit: int | None = None,
        backend: Backend = "onnxruntime",
        dtype: str = "float32",
        small_int8: bool = False,
        detector: Tier | None = None,
    ):
        if model not in ("tiny", "small", "cascade"):
            raise ValueError(f"unknown OCR model {model!r}; use tiny, small or cascade")
        if small_int8 and (device.kind != "cpu" or backend != "onnxruntime"):
            raise ValueError(
                "the INT8 small recogniser runs on CPUs with ONNX Runtime; "
                f"on {device} with {backend} use ocr.small_precision=float32"
            )
        self.model = model
        self.cascade_below = cascade_below
        self.reread, self.span_below = reread, span_below
        self.first_tier: Tier = "small" if model == "small" else "tiny"
        first = model_files(self.first_tier, int8=small_int8 and model == "small")
        found_by = first if detector in (None, self.first_tier) else model_files(detector)
        # ``gpu_mem_limit`` is for all of this page reader's sessions: each gets its share
        share = gpu_mem_limit // (3 if model == "cascade" else 2) if gpu_mem_limit else None
        self.backend = backend
        det = model_session(found_by.detector, device, backend, gpu_mem_limit=share, dtype=dtype)
        self.detector = Detector(
            det, DetectorSettings(max_side=det_max_side, pad_slack=det_pad_slack)
        )
        rec = model_session(first.recogniser, device, backend, gpu_mem_limit=share, dtype=dtype)
        self.recogniser = Recognizer(
            rec, characters_of(rec, first), batch=rec_batch, pad_tolerance=rec_pad_tolerance
        )
        self.second: Recognizer | None = None
        if model == "cascade":
            small = model_files("small", int8=small_int8)
            session = model_session(
                small.recogniser, device, backend, gpu_mem_limit=share, dtype=dtype
            )
            self.second = Recognizer(
                session, characters_of(session, small), batch=rec_batch,
                pad_tolerance=rec_pad_tolerance,
            )  # fmt: skip
        self.times = OcrTimes()
        self.stack_pages = device.kind == "cuda"

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        return self.read_pages([image])[0]

    def read_pages(self, images: list[np.ndarray]) -> list[list[OcrLine]]:
        """The lines of each page. Lines of all the pages are recognised together, in batches
        of one width; on a GPU, pages of one size are also detected together."""
        import time

        images = [im if im.ndim == 3 else np.repeat(im[:, :, np.newaxis], 3, axis=2)
                  for im in images]  # fmt: skip
        times = self.times = OcrTimes()
        start = time.perf_counter()
        found = self.detector.detect_many(images, stack=self.stack_pages)
        times.detect = time.perf_counter() - start
        owners = [page for page, quads in enumerate(found) for _ in quads]
        quads = [q for page_quads in found for q in page_quads]
        crops = [crop_line(images[page], q) for page, q in zip(owners, quads, strict=True)]
        start = time.perf_counter()
        read = self.recogniser.read(crops)
        lines = [
            OcrLine(q, r.text, r.score, self.first_tier) for q, r in zip(quads, read, strict=True)
        ]
        times.recognise = time.perf_counter() - start
        if self.second is not None and self.reread == "span":
            start = time.perf_counter()
            times.reread = self._reread_spans(lines, crops, read, owners)
            times.second_pass = time.perf_counter() - start
        elif self.second is not None:
            start = time.perf_counter()
            unsure = [i for i, line in enumerate(lines) if line.score < self.cascade_below]
            for i, (text, score) in zip(
                unsure, self.second([crops[i] for i in unsure]), strict=True
            ):  # the small model's reading, even when it is less sure: it is right more often
                lines[i] = OcrLine(lines[i].quad, text, score, "small")
            times.second_pass, times.reread = time.perf_counter() - start, len(unsure)
        times.lines = len(lines)
        pages: list[list[OcrLine]] = [[] for _ in images]
        for page, line in zip(owners, lines, strict=True):
            pages[page].append(line)
        return pages

    def _reread_spans(
        self,
        lines: list[OcrLine],
        crops: list[np.ndarray],
        readings: list[Reading],
        owners: list[int],
    ) -> int:
        """Read again with the small recogniser, each alone, the unsure words of each line
        that its page reads nowhere else (``readings`` say where each character is; ``lines``
        are changed in place); the number of lines with words read again."""
        assert self.second is not None
        seen: dict[int, Counter[str]] = {}
        for page, reading in zip(owners, readings, strict=True):
            seen.setdefault(page, Counter()).update(word_key(w) for w in reading.text.split())
        wanted = [
            (i, span)
            for i, (r, crop) in enumerate(zip(readings, crops, strict=True))
            for span in unsure_spans(r, crop.shape[1], self.span_below, seen[owners[i]])
        ]
        cut = [span_crop(crops[i], span) for i, span in wanted]
        read = self.second.read([piece for piece, _, _ in cut])
        again = [inside(r, x0, x1) for r, (_, x0, x1) in zip(read, cut, strict=True)]
        by_line: dict[int, list[tuple[Span, Reading]]] = {}
        for (i, span), reading in zip(wanted, again, strict=True):
            by_line.setdefault(i, []).append((span, reading))
        for i, pairs in by_line.items():
            new = spliced(readings[i], [s for s, _ in pairs], [r for _, r in pairs])
            lines[i] = OcrLine(lines[i].quad, new.text, new.score, "tiny+small")
        return len(by_line)

"""OCR with PP-OCRv6 ONNX models: the tiny pair shipped here, the small pair shipped in rapidocr.

Detection, recognition and the cascade between the two recognisers are in
:mod:`docfleet.runtimes.ocr`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage
from docfleet.page.ink import mark_baselines, mark_bold
from docfleet.page.types import RenderedPage, TextLine
from docfleet.runtimes.backend import BackendOptions, stage_backend
from docfleet.runtimes.warm import WarmModel

OcrModelChoice = Literal["auto", "tiny", "small", "cascade"]
#: Px a text line may be padded on a GPU to share a recognition batch with wider ones. Measured
#: on the 32 scanned benchmark pages (1,969 lines, small models): batches of 32 at most went
#: from 715 (exact widths) to 78, words F1 mean 0.9211 both (tiny models: 0.9080 -> 0.9082).
GPU_PAD_TOLERANCE = 32


class OcrOptions(BackendOptions):
    model: OcrModelChoice = Field(
        "auto",
        description="OCR models: tiny, small, or cascade (tiny, with unsure lines read again by "
        "the small recogniser); auto: cascade on CPU, small on GPUs.",
    )
    det_max_side: int = Field(
        1280, ge=0, description="Longest side of the text detector's input, px (0: rapidocr's)."
    )
    det_pad_slack: float = Field(
        0.0,
        ge=0,
        description="GPUs: pages of other sizes share a detector batch when padding "
        "adds at most this share of pixels (0: one size only; it may move boxes a little).",
    )
    rec_batch: int | None = Field(
        None, ge=1, description="Same-width text lines per recognition batch (8 CPU, 32 GPU)."
    )
    rec_pad_tolerance: int | None = Field(
        None,
        ge=0,
        description="Px a line may be padded beyond its own width to share a "
        "recognition batch (0 CPU: each line as alone; 32 GPU: measured the same words F1).",
    )
    cascade_below: float = Field(
        0.98, ge=0, le=1, description="cascade: read a line again below this confidence."
    )
    cascade_reread: Literal["line", "span"] = Field(
        "line",
        description="cascade: read again the whole unsure line (line), or only its words that "
        "hold a character read below cascade_span_below (span).",
    )
    cascade_span_below: float = Field(
        0.9,
        ge=0,
        le=1,
        description="cascade, span: a character's probability below which its word is read again.",
    )
    small_precision: Literal["auto", "float32", "int8"] = Field(
        "auto",
        description="The small recogniser's weights: int8 (quantised; CPUs with onnxruntime: "
        "twice as fast where the CPU has VNNI, as fast as float32 on AVX2 alone; words F1 "
        "within 0.2 points on hard scans) or float32; auto: int8 for the cascade's second "
        "reading on CPUs, float32 elsewhere.",
    )
    detector: Literal["auto", "tiny", "small"] = Field(
        "auto",
        description="The text detector: tiny or small; auto: the model tier's own (tiny for "
        "the cascade).",
    )
    min_score: float = Field(0.5, ge=0, le=1, description="Drop lines recognised below this.")


def resolve_small_int8(choice: str, model: str, device: Device, backend: str) -> bool:
    """Whether the small recogniser runs quantised: ``auto`` means INT8 where the cascade reads
    again on a CPU with ONNX Runtime (the small tier, the accurate choice, stays float).

    >>> cpu = Device.parse("cpu")
    >>> resolve_small_int8("auto", "cascade", cpu, "onnxruntime")
    True
    >>> resolve_small_int8("auto", "small", cpu, "onnxruntime")
    False
    >>> resolve_small_int8("auto", "cascade", Device.parse("cuda:0"), "onnxruntime")
    False
    """
    if choice != "auto":
        return choice == "int8"
    return model == "cascade" and device.kind == "cpu" and backend == "onnxruntime"


def resolve_model(choice: str, device: Device) -> str:
    """The tier ``auto`` means on ``device``: the cascade where compute is scarce (CPU), the
    small models on accelerators."""
    if choice != "auto":
        return choice
    return "cascade" if device.kind == "cpu" else "small"


class OcrStage(Stage):
    """Recognises text lines (text, box, confidence) on pages whose text must come from OCR."""

    name = "ocr"
    role = "page"
    Options = OcrOptions
    options: OcrOptions
    preferred_batch_size = 1  # pages are analysed one at a time; batches only add tail wait

    def load(self, device: Device) -> None:
        options = self.options
        self.model = resolve_model(options.model, device)
        self.backend = stage_backend(self.name, options, device)
        self.small_int8 = resolve_small_int8(
            options.small_precision, self.model, device, self.backend
        )
        batch = options.rec_batch or (8 if device.kind == "cpu" else 32)
        tolerance = options.rec_pad_tolerance
        if tolerance is None:  # a GPU gains from full batches; a CPU does not
            tolerance = 0 if device.kind == "cpu" else GPU_PAD_TOLERANCE

        def build() -> Any:
            from docfleet.runtimes.ocr.engine import PageOcr
            from docfleet.runtimes.ocr.models import OCR_GPU_ARENA_BYTES

            return PageOcr(
                self.model, device, det_max_side=options.det_max_side,  # type: ignore[arg-type]
                det_pad_slack=options.det_pad_slack,
                rec_batch=batch, rec_pad_tolerance=tolerance, cascade_below=options.cascade_below,
                reread=options.cascade_reread, span_below=options.cascade_span_below,
                gpu_mem_limit=OCR_GPU_ARENA_BYTES if device.kind == "cuda" else None,
                backend=self.backend, dtype=options.dtype, small_int8=self.small_int8,
                detector=None if options.detector == "auto" else options.detector,
            )  # fmt: skip

        self._engine = WarmModel("OCR", build)

    def __call__(self, batch: list[Any]) -> list[Any]:
        pages = [
            page
            for page in batch
            if isinstance(page, RenderedPage)
            and page.text_source == "ocr"
            and page.image is not None
        ]
        if not pages:
            return batch
        start = time.perf_counter()
        engine = self._engine.get()
        read = engine.read_pages([page.image for page in pages])
        share = (time.perf_counter() - start) / len(pages)  # pages of a batch are read together
        t, n = engine.times, len(pages)
        for page, lines in zip(pages, read, strict=True):
            kept = [
                TextLine(line.text, _bbox(line.quad), line.score)
                for line in lines
                if line.score >= self.options.min_score and line.text.strip()
            ]
            page.ocr_lines = mark_baselines(mark_bold(kept, page.image), page.image)
            page.seconds["ocr"] = share  # and its parts (they add up to a little less):
            page.seconds["ocr_detect"] = t.detect / n
            page.seconds["ocr_recognise"] = t.recognise / n
            if self.model == "cascade":
                page.seconds["ocr_reread"] = t.second_pass / n
            reread = sum("small" in ln.model for ln in lines) if self.model == "cascade" else 0
            page.ocr_info = {"model": self.model, "lines": len(lines), "reread": reread,
                             "backend": self.backend}  # fmt: skip
            if self.model != "tiny":
                page.ocr_info["small"] = "int8" if self.small_int8 else "float32"
        return batch

    def close(self) -> None:
        self._engine.close()


def _bbox(quad: Any) -> tuple[float, float, float, float]:
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    return (min(xs), min(ys), max(xs), max(ys))

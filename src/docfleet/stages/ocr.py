"""OCR with the PP-OCR detection, orientation and recognition ONNX models shipped in rapidocr."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from docfleet.devices import Device
from docfleet.pages import RenderedPage, TextLine
from docfleet.stage import Stage, StageOptions
from docfleet.stages.onnx import ort_engine_config
from docfleet.stages.warm import WarmModel


class OcrOptions(StageOptions):
    rec_batch: int | None = Field(
        None, ge=1, description="Text lines per recognition batch (default: 1 on CPU, 8 on GPU)."
    )
    min_score: float = Field(0.5, ge=0, le=1, description="Drop lines recognised below this.")
    use_angle_cls: bool = Field(
        False,
        description="Run the 0/180 degree line classifier. Off by default: on upright scans it "
        "flips a share of correct lines (measured: 10-26% CER with it, under 0.1% without).",
    )


class OcrStage(Stage):
    """Recognises text lines (text, box, confidence) on pages whose text must come from OCR."""

    name = "ocr"
    Options = OcrOptions
    options: OcrOptions
    preferred_batch_size = 1  # pages are analysed one at a time; batches only add tail wait

    def load(self, device: Device) -> None:
        engine = ort_engine_config(device)
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.text_score": self.options.min_score,
            "Global.use_cls": self.options.use_angle_cls,
            # one line at a time on CPU: batches pad every line to the widest (measured 15%
            # slower at batch 6 on one thread); GPUs gain from batching
            "Rec.rec_batch_num": self.options.rec_batch or (1 if device.kind == "cpu" else 8),
        }
        for key, value in engine.items():
            if isinstance(value, dict):
                params.update({f"EngineConfig.onnxruntime.{key}.{k}": v for k, v in value.items()})
            else:
                params[f"EngineConfig.onnxruntime.{key}"] = value

        def build() -> Any:
            from rapidocr import RapidOCR

            return RapidOCR(params=params)

        self._engine = WarmModel("OCR", build)

    def __call__(self, batch: list[Any]) -> list[Any]:
        for page in batch:
            if (
                isinstance(page, RenderedPage)
                and page.text_source == "ocr"
                and page.image is not None
            ):
                start = time.perf_counter()
                out = self._engine.get()(page.image)
                boxes = out.boxes if out.boxes is not None else []
                page.ocr_lines = [
                    TextLine(str(text), _bbox(box), float(score))
                    for box, text, score in zip(
                        boxes, out.txts or (), out.scores or (), strict=True
                    )
                    if str(text).strip()
                ]
                page.seconds["ocr"] = time.perf_counter() - start
        return batch

    def close(self) -> None:
        del self._engine


def _bbox(quad: Any) -> tuple[float, float, float, float]:
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    return (min(xs), min(ys), max(xs), max(ys))

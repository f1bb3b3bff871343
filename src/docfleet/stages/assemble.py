"""Turns a rendered, analysed page into its record: blocks in reading order, text, Markdown."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from docfleet.documents.pdf.errors import DocumentError
from docfleet.documents.pdf.render import render_pdf_region
from docfleet.engine.stage import Stage, StageOptions
from docfleet.page.blocks import Block
from docfleet.page.formulas import asset_name, crop_box, formula_blocks
from docfleet.page.layout import ocr_blocks, text_layer_blocks
from docfleet.page.margins import edge_candidates
from docfleet.page.markdown import page_markdown, page_text
from docfleet.page.roles import body_size
from docfleet.page.tables import cell_record
from docfleet.page.types import RenderedPage, Table


class AssembleOptions(StageOptions):
    formulas: Literal["image", "text"] = Field(
        "image",
        description="What a display formula becomes in the Markdown (one the layout model "
        "finds on an OCR page, or one set apart on a text-layer page): image (its crop, a PNG "
        "beside the document's Markdown) or text (its OCR or text-layer text between $$). The "
        "block keeps its text in pages.jsonl either way.",
    )


class AssembleStage(Stage):
    """Assigns lines to layout regions, orders blocks and emits a JSON-ready page record.

    The record drops the page's pixels, so only text and boxes travel back from the worker
    (and the PNG crops of its formulas, under the private key ``_assets``).
    """

    name = "assemble"
    role = "assemble"
    Options = AssembleOptions
    options: AssembleOptions
    preferred_batch_size = 64

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [page_record(page, formulas=self.options.formulas) for page in batch]


def page_record(page: RenderedPage, *, formulas: str = "image") -> dict[str, Any]:
    """The page's JSON-ready record (see the README's output section)."""
    start = time.perf_counter()
    if page.text_source == "text-layer":
        blocks = text_layer_blocks(page.text_lines or [], page.width, page.height, page.tables)
    else:
        blocks = ocr_blocks(
            page.ocr_lines or [], page.regions, page.width, page.height, page.tables
        )
    images: dict[int, str] = {}
    assets: dict[str, bytes] = {}
    if formulas == "image":
        images, assets = formula_images(page, blocks)
    texts = [b.text() for b in blocks]
    body = body_size([b for b in blocks if b.lines and b.type not in ("header", "footer")])
    edges = edge_candidates(blocks, page.height, body)  # furniture if the document repeats them
    text, markdown = page_text(blocks), page_markdown(blocks, apart=edges, images=images)
    page.seconds["assemble"] = time.perf_counter() - start
    return (
        {
            **page.task.identity(),
            "width": page.width,
            "height": page.height,
            "dpi": round(page.dpi, 2),
            "downscaled": page.downscaled,
            **({"skew": page.skew} if page.skew else {}),
            "text_source": page.text_source,
            "blocks": [
                {
                    "type": b.type,
                    "bbox": [round(v, 1) for v in b.bbox],
                    "text": t,
                    "score": round(b.score, 3),
                }
                | ({"level": b.level} if b.level else {})
                | ({"edge": edges[i]} if i in edges else {})
                | ({"image": images[i]} if i in images else {})
                | (_structure(b.table) if b.table is not None else {})
                for i, (b, t) in enumerate(zip(blocks, texts, strict=True))
            ],
            "text": text,
            "markdown": markdown,
            "seconds": {k: round(v, 4) for k, v in page.seconds.items()},
        }
        | ({"ocr": page.ocr_info} if page.ocr_info else {})
        | ({"_assets": assets} if assets else {})
    )


def formula_images(
    page: RenderedPage, blocks: Sequence[Block]
) -> tuple[dict[int, str], dict[str, bytes]]:
    """Type the page's display formulas ``formula`` and crop each from its pixels: the path of
    each block's image (by index) and each image's PNG bytes (by path)."""
    images: dict[int, str] = {}
    assets: dict[str, bytes] = {}
    for number, i in enumerate(formula_blocks(blocks), start=1):
        x0, y0, x1, y1 = box = crop_box(blocks[i].bbox, page.width, page.height)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue  # nothing to see
        pixels = page.image[y0:y1, x0:x1] if page.image is not None else _pdf_crop(page, box)
        if pixels is None:
            continue  # shown as its text
        name = asset_name(page.task.document, page.task.page, number)
        images[i], assets[name] = name, png_bytes(pixels)
    return images, assets


def _pdf_crop(page: RenderedPage, box: tuple[int, int, int, int]) -> Any:
    """The box's pixels rendered from the PDF of a page read without them (its text layer);
    None where the document cannot be opened here, or only with a password (its text stands
    instead: a formula is never worth a failed page)."""
    if page.task.kind != "pdf":
        return None
    try:
        return render_pdf_region(page.task.document, page.task.page, box, page.dpi)
    except (DocumentError, OSError, RuntimeError):  # PDFium's errors are RuntimeErrors
        return None


def png_bytes(pixels: Any) -> bytes:
    """An RGB ``uint8`` array as PNG bytes."""
    import io

    import numpy as np
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="PNG")
    return out.getvalue()


def _structure(table: Table) -> dict[str, Any]:
    """What a table block adds when the table model read it: its grid's size, its header rows,
    its cells and its HTML."""
    return {"rows": table.rows, "cols": table.cols, "header_rows": table.header_rows,
            "cells": [cell_record(c) for c in table.cells], "html": table.html}  # fmt: skip

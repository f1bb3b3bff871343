"""Display formulas on OCR pages: the layout model's equation regions become ``formula``
blocks shown in the Markdown as images of the page (OCR reads a formula into noise).

The pixels are on the worker, the Markdown file is written by the driver: the assemble stage
crops each formula (:func:`crop_box`) and puts the PNG bytes in the page record under the
private key ``_assets`` (named by :func:`asset_name`, relative to the document's Markdown);
``pages.jsonl`` does not take private keys, and the Markdown sink writes the files beside the
document's Markdown (``documents/<name>.md``, ``documents/<name>.assets/``). A formula model,
when one comes, would read the same crops (``assemble``'s ``formulas`` option picks what a
formula becomes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import PurePath

from docfleet.page.blocks import Block
from docfleet.page.types import BBox

#: The layout model's (CDLA's) class of a display formula.
FORMULA_REGIONS = ("equation",)


def formula_blocks(blocks: Sequence[Block]) -> list[int]:
    """Type the page's display formulas ``formula`` in place; their indices, in order."""
    found = [i for i, b in enumerate(blocks) if b.type in FORMULA_REGIONS]
    for i in found:
        blocks[i].type = "formula"
    return found


def asset_name(document: str, page: int, number: int) -> str:
    """The crop's path relative to the document's Markdown (``documents/<name>.md``).

    >>> asset_name("scans/paper.pdf", 3, 1)
    'paper.pdf.assets/page-3-formula-1.png'
    """
    return f"{PurePath(document).name}.assets/page-{page}-formula-{number}.png"


def crop_box(bbox: BBox, width: int, height: int) -> tuple[int, int, int, int]:
    """The region's box in whole pixels inside the page (``x0, y0, x1, y1``, ends exclusive).

    >>> crop_box((10.4, 20.6, 99.5, 50.2), 90, 100)
    (10, 20, 90, 51)
    """
    x0, y0 = max(0, math.floor(bbox[0])), max(0, math.floor(bbox[1]))
    x1, y1 = min(width, math.ceil(bbox[2])), min(height, math.ceil(bbox[3]))
    return x0, y0, max(x1, x0), max(y1, y0)

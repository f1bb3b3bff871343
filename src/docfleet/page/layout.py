"""A page's lines (and layout regions) to typed blocks in the order a person reads them."""

from __future__ import annotations

from collections.abc import Sequence

from docfleet.page.blocks import Block, blocks_from_regions, paragraphs
from docfleet.page.code_blocks import join_code
from docfleet.page.header_tables import header_tables
from docfleet.page.line_joins import merge_rows, split_gutters
from docfleet.page.ocr_code import code_runs
from docfleet.page.ocr_contents import ocr_contents
from docfleet.page.ocr_paragraphs import split_region
from docfleet.page.reading_order import reading_order
from docfleet.page.roles import assign_roles
from docfleet.page.tables import table_blocks
from docfleet.page.types import Region, Table, TextLine

OCR_BAND_OVERLAP = 0.2  # OCR boxes overlapping by less than this share of a height are bands
_FIRST = ("header",)
_LAST = ("footnote", "footer")
_CODE = ("text", "reference")  # OCR regions where code is looked for
_SPLIT = ("text", "list_item")  # OCR regions cut into paragraphs and list items


def text_layer_blocks(
    lines: Sequence[TextLine], width: float, height: float, tables: Sequence[Table] = ()
) -> list[Block]:
    """Blocks of a text-layer page, in reading order (lines arrive in content order); a table
    the table model read is one block of its cells, its lines used by no other."""
    found, lines, _ = table_blocks(tables, lines, ()) if tables else ([], lines, [])
    joined = split_gutters(merge_rows(lines))
    made, rest = header_tables(joined)
    blocks = found + made + paragraphs(rest, ordered=True)
    assign_roles(blocks, width, height)
    return join_code(order_blocks(blocks))


def ocr_blocks(
    lines: Sequence[TextLine],
    regions: Sequence[Region],
    width: float,
    height: float,
    tables: Sequence[Table] = (),
) -> list[Block]:
    """Blocks of an OCR page: lines in the layout model's regions (when it ran), in order; a
    table region the table model read is one block of its cells, its lines used by no other."""
    if tables:
        found, lines, others = table_blocks(tables, lines, regions)
        blocks = found + (blocks_from_regions(others, lines) if regions else paragraphs(lines))
    else:
        blocks = blocks_from_regions(regions, lines) if regions else paragraphs(lines)
    blocks = ocr_contents(blocks)
    blocks = [c for b in blocks for c in (code_runs(b) if b.type in _CODE else [b])]
    blocks = [p for b in blocks for p in (split_region(b) if b.type in _SPLIT else [b])]
    assign_roles(blocks, width, height)
    return join_code(order_blocks(blocks, OCR_BAND_OVERLAP))


def order_blocks(blocks: Sequence[Block], band_overlap: float = 0.0) -> list[Block]:
    """Running headers first, then the body (columns left to right, each top to bottom),
    then footnotes, then footers and page numbers."""
    groups = [
        [b for b in blocks if b.type in _FIRST],
        [b for b in blocks if b.type not in _FIRST + _LAST],
        *([b for b in blocks if b.type == kind] for kind in _LAST),
    ]
    return [group[i] for group in groups
            for i in reading_order([b.bbox for b in group], band_overlap)]  # fmt: skip

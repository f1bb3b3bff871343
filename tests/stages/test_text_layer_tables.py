"""Born-digital tables through the layout and table models: a real page whose text-layer rows
run two cells into one comes out with its rows and columns, filled with the text layer's own
characters; without the models (or with ``table_pixels`` off) the page is read as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("rapid_layout")
pytest.importorskip("rapid_table")

from docfleet.engine.devices import Device
from docfleet.page.types import PageTask
from docfleet.stages.assemble import page_record
from docfleet.stages.layout import LayoutStage
from docfleet.stages.render import RenderStage
from docfleet.stages.tables import TablesStage

REAL = Path(__file__).parents[1] / "data" / "real"
PAGE = REAL / "r-console-table.pdf"
ROW = ["trt=A, relapse", "693", "109", "4.3", "0.56"]  # as printed on the page


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[LayoutStage, TablesStage]]:
    layout, tables = LayoutStage(), TablesStage()
    for stage in (layout, tables):
        stage.load(Device.parse("cpu"))
    yield layout, tables
    tables.close()


def record(models: tuple[LayoutStage, TablesStage], page: Path = PAGE, **render: object) -> dict:
    task = PageTask(str(page), "pdf", 1, 1)
    page = RenderStage(**render)([task])[0]
    for stage in models:
        page = stage([page])[0]
    return page_record(page)


def cells_by_row(block: dict) -> dict[int, list[str]]:
    rows: dict[int, list[str]] = {}
    for cell in sorted(block["cells"], key=lambda c: (c["row"], c["col"])):
        rows.setdefault(cell["row"], []).append(cell["text"])
    return rows


def test_a_table_the_text_layer_rows_break_is_read_by_the_table_model(models) -> None:
    rec = record(models, table_pixels=True)
    assert rec["text_source"] == "text-layer"  # the text is still the layer's, not OCR
    read = [b for b in rec["blocks"] if b["type"] == "table" and b.get("cells")]
    assert len(read) == 1
    rows = cells_by_row(read[0])
    assert ROW in rows.values()
    assert read[0]["cols"] == 5 and read[0]["rows"] >= 10
    assert "| trt=A, relapse | 693 | 109 | 4.3 | 0.56 |" in rec["markdown"]
    assert set(rec["seconds"]) >= {"layout", "tables"}


def test_without_table_pixels_the_page_is_read_from_its_text_layer_alone(models) -> None:
    rec = record(models, table_pixels=False)
    assert "layout" not in rec["seconds"] and "tables" not in rec["seconds"]
    assert not any(b.get("cells") for b in rec["blocks"])
    assert "| trt=A, relapse | 693 | 109 | 4.3 | 0.56 |" not in rec["markdown"]


def test_a_job_pipeline_without_tables_keeps_the_page_from_the_models(models) -> None:
    task = PageTask(str(PAGE), "pdf", 1, 1, overrides=(("pipeline", "layout+ocr"),))
    page = RenderStage(table_pixels=True)([task])[0]
    assert page.image is None and page.text_source == "text-layer"


def test_a_run_renders_for_tables_only_when_its_pipeline_reads_them() -> None:
    from docfleet.jobs.run.config import DocumentOptions

    assert DocumentOptions().stage_options("render")["table_pixels"] is True
    assert DocumentOptions(pipeline="layout+ocr").stage_options("render")["table_pixels"] is False
    off = DocumentOptions(stages={"render": {"table_pixels": False}})
    assert off.stage_options("render")["table_pixels"] is False


def test_a_table_drawn_as_a_grid_is_read_from_its_rulings(models) -> None:
    rec = record(models, REAL / "docbook-grid-table.pdf", table_pixels=True)
    read = [b for b in rec["blocks"] if b["type"] == "table" and b.get("cells")]
    assert len(read) == 1 and read[0]["cols"] == 2 and read[0]["rows"] >= 14
    rows = cells_by_row(read[0])
    assert ["file", "description of contents"] in rows.values()
    assert [
        "/var/lib/dpkg/info/package_name.conffiles",
        "list of configuration files. (user modifiable)",
    ] in rows.values()
    assert rec["markdown"].count("/var/lib/dpkg/info/package_name.list") == 1  # not repeated

"""The tables stage with the real SLANet-plus model: a ruled table drawn here (runs everywhere)
and PubTabNet examples read in place (skipped where that folder is absent)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")
pytest.importorskip("rapid_table")

from PIL import Image, ImageDraw, ImageFont

from docfleet.engine.devices import Device
from docfleet.page.types import PageTask, Region, RenderedPage, TextLine
from docfleet.stages.assemble import page_record
from docfleet.stages.tables import TablesStage

PUBTABNET = Path("/work/shared/data/public-eval/pubtabnet-examples")
WORDS = [["Name", "Count", "Price"], ["apple", "12", "0.50"], ["pear", "7", "1.25"]]
CELL_W, CELL_H, LEFT, TOP = 220, 70, 40, 110
CAPTION = "Table 1. Fruit in stock"


@pytest.fixture(scope="module")
def stage() -> Iterator[TablesStage]:
    stage = TablesStage()
    stage.load(Device.parse("cpu"))
    yield stage
    stage.close()


def drawn_table(pipeline: str = "layout+ocr+tables") -> RenderedPage:
    """A page with a caption and a ruled 3 x 3 table under it, its OCR lines where the words
    were drawn, and the regions a layout model gives such a page."""
    width, height = LEFT * 2 + 3 * CELL_W, TOP + 3 * CELL_H + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    for k in range(4):
        draw.line([(LEFT, TOP + k * CELL_H), (LEFT + 3 * CELL_W, TOP + k * CELL_H)], "black", 2)
        draw.line([(LEFT + k * CELL_W, TOP), (LEFT + k * CELL_W, TOP + 3 * CELL_H)], "black", 2)
    lines = [TextLine(CAPTION, draw.textbbox((LEFT, 50), CAPTION, font=font), 0.99)]
    draw.text((LEFT, 50), CAPTION, "black", font=font)
    for r, row in enumerate(WORDS):
        for c, word in enumerate(row):
            at = (LEFT + c * CELL_W + 20, TOP + r * CELL_H + 18)
            draw.text(at, word, "black", font=font)
            lines.append(TextLine(word, draw.textbbox(at, word, font=font), 0.99))
    table = (LEFT - 4, TOP - 4, LEFT + 3 * CELL_W + 4, TOP + 3 * CELL_H + 4)
    regions = [Region("table_caption", lines[0].bbox, 0.9), Region("table", table, 0.95)]
    task = PageTask("drawn.png", "png", 1, 1, overrides=(("pipeline", pipeline),))
    return RenderedPage(task, width, height, 144.0, image=np.asarray(image), regions=regions,
                        ocr_lines=lines)  # fmt: skip


def test_a_drawn_table_becomes_rows_and_columns_of_its_words(stage: TablesStage) -> None:
    page = drawn_table()
    stage([page])
    assert len(page.tables) == 1
    table = page.tables[0]
    assert (table.rows, table.cols) == (3, 3)
    assert not table.spans
    texts = {(c.row, c.col): c.text for c in table.cells}
    assert texts == {(r, c): w for r, row in enumerate(WORDS) for c, w in enumerate(row)}
    for cell in table.cells:  # boxes in page pixels, inside the table's region (and margin)
        assert LEFT - 10 <= cell.bbox[0] < cell.bbox[2] <= LEFT + 3 * CELL_W + 10
    assert page.seconds["tables"] > 0

    record = page_record(page)
    [block] = [b for b in record["blocks"] if b["type"] == "table"]
    assert len(block["cells"]) == 9 and block["html"].startswith("<table>")
    keys = {"row", "col", "row_span", "col_span", "header", "text", "bbox"}
    assert keys == set(block["cells"][0])
    assert (block["rows"], block["cols"]) == (3, 3)
    assert block["text"].splitlines() == ["\t".join(row) for row in WORDS]
    markdown = record["markdown"]
    assert "| Name | Count | Price |\n| --- | --- | --- |\n| apple | 12 | 0.50 |" in markdown
    assert markdown.count("apple") == 1 and record["text"].count("pear") == 1  # not repeated
    assert CAPTION in markdown


def test_a_ruled_table_is_read_from_its_rulings_unless_told_not_to(stage: TablesStage) -> None:
    by_lines = drawn_table()
    stage([by_lines])
    by_model_stage = TablesStage(ruled=False)
    by_model_stage.load(Device.parse("cpu"))
    try:
        by_model = drawn_table()
        by_model_stage([by_model])
    finally:
        by_model_stage.close()
    [lines_table], [model_table] = by_lines.tables, by_model.tables
    assert lines_table.structure_score == 1.0  # the grid, read from its lines
    assert model_table.structure_score < 1.0  # the network's mean confidence
    for table in (lines_table, model_table):
        assert {(c.row, c.col): c.text for c in table.cells} == {
            (r, c): w for r, row in enumerate(WORDS) for c, w in enumerate(row)
        }


def test_without_the_stage_the_record_is_unchanged(stage: TablesStage) -> None:
    untouched = _timeless(page_record(drawn_table()))
    asked_elsewhere = drawn_table(pipeline="layout+ocr")  # a job that did not ask for tables
    stage([asked_elsewhere])
    assert asked_elsewhere.tables == []
    assert _timeless(page_record(asked_elsewhere)) == untouched
    assert '"cells"' not in untouched and '"html"' not in untouched


def test_a_structure_below_the_score_keeps_the_page_as_without_the_stage() -> None:
    strict = TablesStage(min_structure_score=1.0, ruled=False)  # the model's reading, unsure
    strict.load(Device.parse("cpu"))
    try:
        page = drawn_table()
        strict([page])
    finally:
        strict.close()
    assert page.tables == []
    assert page_record(page)["blocks"] == page_record(drawn_table())["blocks"]


def _timeless(record: dict) -> str:
    """The record as its JSON line, without the seconds each stage took."""
    return json.dumps({k: v for k, v in record.items() if k != "seconds"}, ensure_ascii=False)


EXAMPLES = ["PMC3907710_006_00.png", "PMC4776821_005_00.png", "PMC5577841_001_00.png",
            "PMC5679144_002_01.png"]  # fmt: skip


@pytest.fixture(scope="module")
def ocr() -> Iterator[object]:
    from docfleet.stages.ocr import OcrStage

    stage = OcrStage(model="small")
    stage.load(Device.parse("cpu"))
    yield stage
    stage.close()


@pytest.mark.skipif(not PUBTABNET.is_dir(), reason=f"PubTabNet examples not found at {PUBTABNET}")
@pytest.mark.parametrize("name", EXAMPLES)
def test_pubtabnet_tables_match_their_annotations(name: str, stage: TablesStage, ocr) -> None:
    from docfleet.runtimes.tables.grid import grid_cells

    lines = (PUBTABNET / "PubTabNet_Examples.jsonl").read_text().splitlines()
    truth = next(t for t in map(json.loads, lines) if t["filename"] == name)
    cells = grid_cells(truth["html"]["structure"]["tokens"])
    expected = {
        (c.row, c.col): "".join(t for t in cell["tokens"] if len(t) == 1).strip()
        for c, cell in zip(cells, truth["html"]["cells"], strict=True)
    }
    image = Image.open(PUBTABNET / name).convert("RGB")
    image = image.resize((image.width * 2, image.height * 2), Image.LANCZOS)  # 72 -> 144 dpi
    whole = Region("table", (0, 0, image.width, image.height), 0.9)
    page = RenderedPage(PageTask(name, "png", 1, 1), image.width, image.height, 144.0,
                        image=np.asarray(image), regions=[whole])  # fmt: skip
    ocr([page])
    stage([page])
    [table] = page.tables
    rows = max(c.row + c.row_span for c in cells)
    cols = max(c.col + c.col_span for c in cells)
    assert (table.rows, table.cols) == (rows, cols)
    assert table.spans == any(c.row_span > 1 or c.col_span > 1 for c in cells)
    got = {(c.row, c.col): c.text.replace(" ", "") for c in table.cells}
    filled = {k: v.replace(" ", "") for k, v in expected.items() if v}
    right = sum(got.get(k) == v for k, v in filled.items())
    assert right >= 0.8 * len(filled), (right, len(filled))
    markdown = page_record(page)["markdown"]
    assert markdown.startswith("<table>" if table.spans else "| ")


def test_tokens_with_spans_give_the_grid_and_the_markdown_keeps_the_html() -> None:
    from docfleet.page.tables import fill_cells, table_html
    from docfleet.page.types import Table, TableCell
    from docfleet.runtimes.tables.grid import grid_cells

    tokens = ["<thead>", "<tr>", "<td></td>", "<td></td>", "</tr>", "</thead>", "<tbody>",
              "<tr>", "<td", ' rowspan="2"', ">", "</td>", "<td></td>", "</tr>",
              "<tr>", "<td></td>", "</tr>", "</tbody>"]  # fmt: skip
    grid = [(c.row, c.col, c.row_span, c.header) for c in grid_cells(tokens)]
    assert grid == [(0, 0, 1, True), (0, 1, 1, True), (1, 0, 2, False), (1, 1, 1, False),
                    (2, 1, 1, False)]  # fmt: skip
    boxes = [(0, 0, 50, 20), (50, 0, 100, 20), (0, 20, 50, 60), (50, 20, 100, 40),
             (50, 40, 100, 60)]  # fmt: skip
    cells = [TableCell(c.row, c.col, c.row_span, c.col_span, boxes[c.box], header=c.header)
             for c in grid_cells(tokens)]  # fmt: skip
    words = ["Site", "Count", "north", "3", "5"]
    lines = [TextLine(w, (b[0] + 5, b[1] + 5, b[0] + 30, b[1] + 15)) for w, b in
             zip(words, boxes, strict=True)]  # fmt: skip
    lines.append(TextLine("Notes under the table", (0, 80, 100, 95)))
    fill_cells(cells, lines, range(5))
    assert [c.text for c in cells] == words
    table = Table((0, 0, 100, 60), 0.9, 3, 2, cells, header_rows=1, lines=tuple(range(5)))
    table.html = table_html(table)
    assert '<td rowspan="2">north</td>' in table.html and "<th>Site</th>" in table.html
    page = RenderedPage(PageTask("spans.png", "png", 1, 1), 100, 100, 72.0, ocr_lines=lines,
                        regions=[Region("table", table.bbox, 0.9)], tables=[table])  # fmt: skip
    record = page_record(page)
    assert record["markdown"].startswith(table.html)
    assert record["markdown"].count("north") == 1 and "Notes under the table" in record["markdown"]
    [block] = [b for b in record["blocks"] if b["type"] == "table"]
    assert block["cells"][2] == {"row": 1, "col": 0, "row_span": 2, "col_span": 1, "header": False,
                                 "text": "north", "bbox": [0, 20, 50, 60]}  # fmt: skip
    assert block["header_rows"] == table.header_rows == 1 and block["cells"][0]["header"]


def test_tables_runs_after_ocr_in_a_document_pipeline() -> None:
    from docfleet.jobs.run.pipeline_spec import document_stages

    assert document_stages("tables+ocr+layout") == ["render", "layout", "ocr", "tables", "assemble"]


def test_a_table_the_layout_model_missed_is_read_from_its_rows(stage: TablesStage) -> None:
    page = drawn_table()
    page.regions = []  # an image of a table: the layout model found nothing on it
    stage([page])
    [table] = page.tables
    assert (table.rows, table.cols) == (3, 3)
    assert {(c.row, c.col): c.text for c in table.cells}[(1, 0)] == "apple"
    assert "| apple | 12 | 0.50 |" in page_record(page)["markdown"]

"""Where a page's tables are looked for, and how a structure is filled: pure geometry on lines
laid out as the OCR gives them (boxes in page pixels)."""

from __future__ import annotations

from docfleet.page.blocks import paragraphs, prose_share
from docfleet.page.layout import ocr_blocks
from docfleet.page.table_regions import TABULAR, plausible, table_candidates
from docfleet.page.tables import fill_cells, first_row_header
from docfleet.page.types import Region, Table, TableCell, TextLine

SENTENCES = [
    "The regulation provides that all other use",
    "absent statutory or other express authority",
    "requires a sales contract or permit and the",
    "bureau refers interested parties to the",
    "explanation of this regulatory language in",
    "the preamble to the final rule published in",
    "the register which states that minimal use",
    "would not include large scale use of mineral",
]


def line(text: str, x: float, y: float, char: float = 9.0, height: float = 20.0) -> TextLine:
    return TextLine(text, (x, y, x + char * len(text), y + height), 0.95)


def grid(x: float = 100, y: float = 100, rows: int = 5) -> list[TextLine]:
    """A table of short cells: a header of labels, then rows of figures."""
    out = [line(t, x + 150 * c, y) for c, t in enumerate(["Site", "Count", "Mean", "SD"])]
    for r in range(1, rows):
        cells = [f"S{r}", str(10 * r + 3), f"{r}.25", f"0.{r}1"]
        out += [line(t, x + 150 * c, y + 30 * r) for c, t in enumerate(cells)]
    return out


def columns(count: int = 3, left: float = 40, width: float = 420) -> list[TextLine]:
    """Body text in ``count`` columns, line for line side by side (a newspaper's page)."""
    return [
        line(text, left + k * width, 60 + 24 * i)
        for k in range(count)
        for i, text in enumerate(SENTENCES)
    ]


def test_a_figure_of_rows_of_cells_is_read_as_a_table_and_a_chart_is_not() -> None:
    table = grid()
    figure = Region("figure", (90, 90, 700, 260), 0.8)
    [found] = table_candidates(table, [figure], 0.5)
    assert found.type == TABULAR and found.bbox == figure.bbox
    ticks = [("0", 100, 400), ("10", 100, 300), ("20", 100, 200), ("2019", 150, 450),
             ("2020", 300, 450), ("Sales by year", 200, 120)]  # fmt: skip
    labels = [line(*tick) for tick in ticks]
    chart = Region("figure", (90, 110, 700, 480), 0.8)
    assert table_candidates(labels, [chart], 0.5) == []


def test_an_image_of_a_table_is_one_candidate_grown_by_the_header_the_model_cut_off() -> None:
    table = grid()
    assert [r.bbox for r in table_candidates(table, [], 0.5)] == [
        (100, 100, max(ln.bbox[2] for ln in table), max(ln.bbox[3] for ln in table))
    ]
    cut = Region("table", (95, 125, 700, 245), 0.9)  # the header row left out
    caption = line("Table 2. Counts by site", 100, 60)
    [found] = table_candidates(
        [caption, *table], [cut, Region("table_caption", caption.bbox, 0.9)], 0.5
    )
    assert found.bbox[1] == 100  # the header row, not the caption above it
    assert found.type == "table" and found.bbox[3] == cut.bbox[3]


def test_columns_of_body_text_are_never_a_table() -> None:
    text = columns()
    assert prose_share(text) == 1.0 and prose_share(grid()) == 0.0
    whole = Region("table", (30, 50, 1300, 260), 0.96)  # the layout model's call on such a page
    assert table_candidates(text, [whole], 0.5) == []
    blocks = ocr_blocks(text, [whole], 1400, 1800)
    assert {b.type for b in blocks} == {"text"}
    assert [len(b.lines) for b in blocks] == [8, 8, 8]  # one paragraph per column
    assert [b.bbox[0] for b in blocks] == [40, 460, 880]  # read column by column
    assert all(b.type == "text" for b in paragraphs(text))  # and no table from the text rows


def test_a_line_across_cells_is_cut_into_its_words() -> None:
    cells = [TableCell(0, c, bbox=(100.0 * c, 0.0, 100.0 * c + 100, 30.0)) for c in range(3)]
    lines = [TextLine("55.3 40.0", (10, 5, 190, 25)), TextLine("59", (220, 5, 260, 25))]
    fill_cells(cells, lines, [0, 1])
    assert [c.text for c in cells] == ["55.3", "40.0", "59"]
    assert cells[0].lines == cells[1].lines == (0,)
    wide = [TableCell(0, 0, bbox=(0.0, 0.0, 300.0, 30.0))]  # a wide cell keeps its line whole
    fill_cells(wide, lines, [0])
    assert wide[0].text == "55.3 40.0"


def test_a_first_row_of_labels_over_figures_is_the_header() -> None:
    def cells(rows: list[list[str]]) -> list[TableCell]:
        return [TableCell(r, c, text=t) for r, row in enumerate(rows) for c, t in enumerate(row)]

    assert first_row_header(cells([["Grade", "Index"], ["one", "1-50"], ["two", "51-100"]]))
    assert not first_row_header(cells([["1", "2"], ["3", "4"]]))  # figures on top
    assert not first_row_header(cells([["name", "role"], ["Ann", "chair"], ["Bo", "member"]]))
    marked = cells([["a", "b"], ["1", "2"]])
    marked[0].header = True  # the model said so already
    assert not first_row_header(marked)


def test_a_candidate_from_lines_must_read_as_a_filled_grid() -> None:
    def table(rows: int, cols: int, texts: list[str], lines: list[tuple[int, ...]]) -> Table:
        cells = [TableCell(i // cols, i % cols, text=t, lines=ln)
                 for i, (t, ln) in enumerate(zip(texts, lines, strict=True))]  # fmt: skip
        return Table((0, 0, 9, 9), 0.0, rows, cols, cells)

    found, layout = Region(TABULAR, (0, 0, 9, 9), 0.0), Region("table", (0, 0, 9, 9), 0.9)
    full = table(2, 2, ["a", "1", "b", "2"], [(0,), (1,), (2,), (3,)])
    assert plausible(full, found) and plausible(full, layout)
    sparse = table(2, 2, ["a", "", "", ""], [(0,), (), (), ()])
    assert not plausible(sparse, found) and plausible(sparse, layout)
    wrapped = table(2, 2, ["a b", "c d", "e", "f"], [(0, 1), (2, 3), (4,), (5,)])
    assert not plausible(wrapped, found)
    one_column = table(2, 1, ["a", "b"], [(0,), (1,)])
    assert not plausible(one_column, layout)


def test_a_contents_list_is_not_a_table_but_figures_in_a_last_column_are() -> None:
    entries = ["Introduction", "Getting started", "Installation notes", "Using the class",
               "Frames and overlays", "Themes and colours"]  # fmt: skip
    toc = [line(t, 100, 100 + 30 * i) for i, t in enumerate(entries)]
    toc += [line(str(3 + 4 * i), 700, 100 + 30 * i) for i in range(len(entries))]
    region = Region("table", (90, 90, 760, 300), 0.9)  # the layout model took it for a table
    assert table_candidates(toc, [region], 0.5) == []
    counts = [line(t, 100, 100 + 30 * i) for i, t in enumerate(entries)]
    counts += [line(str(n), 700, 100 + 30 * i) for i, n in enumerate([12, 7, 30, 2, 18, 5])]
    assert table_candidates(counts, [region], 0.5) == [region]


def test_a_figure_over_a_table_caption_is_a_table_though_its_cells_wrap() -> None:
    cells = [line("signal", 100, 100), line("action", 300, 100), line("note", 500, 100)]
    for r, name in enumerate(["SIGHUP", "SIGINT", "SIGKILL"]):
        top = 140 + 110 * r  # a cell wrapped word by word down its narrow column
        cells += [line(name, 100, top + 40), line("note on it", 500, top + 40)]
        cells += [line(word, 300, top + 24 * k) for k, word in enumerate(["end", "the", "task"])]
    figure = Region("figure", (90, 90, 700, 480), 0.8)
    caption = line("Table 9.11: List of frequently used signals", 150, 500)
    found = table_candidates([*cells, caption], [figure], 0.5)
    assert [(r.type, r.bbox) for r in found][:1] == [("table", figure.bbox)]
    # without one, or under a figure's own caption, only a candidate whose reading must
    # look like a filled grid (cells wrapped over several lines do not)
    assert [r.type for r in table_candidates(cells, [figure], 0.5)] == [TABULAR]
    own = line("Figure 3: The signals", 150, 500)
    assert [r.type for r in table_candidates([*cells, own], [figure], 0.5)] == [TABULAR]

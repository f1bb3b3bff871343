"""Tables continued on the next page become one table in the document's Markdown."""

from __future__ import annotations

from docfleet.page.continued_tables import merge_continued_tables

HEADER = "| Name | Count |\n| --- | --- |"


def table(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows])


def test_a_table_with_its_header_repeated_on_the_next_page_is_one_table() -> None:
    pages = {
        1: "Stock at the end of the year:\n\n" + table("| apple | 12 |", "| pear | 7 |"),
        2: table("| plum | 3 |") + "\n\nThe counts were taken by hand.",
    }
    merged = merge_continued_tables(pages)
    assert merged[1].endswith(
        "<!-- table: pages 1-2 -->\n\n" + table("| apple | 12 |", "| pear | 7 |", "| plum | 3 |")
    )
    assert merged[2] == "The counts were taken by hand."
    assert merged[1].count("| Name | Count |") == 1


def test_without_a_repeated_header_the_first_row_is_kept_as_a_row() -> None:
    pages = {1: table("| apple | 12 |"), 2: "| plum | 3 |\n| --- | --- |\n| fig | 9 |"}
    merged = merge_continued_tables(pages)
    assert merged[1].endswith(table("| apple | 12 |", "| plum | 3 |", "| fig | 9 |"))
    assert "plum" in merged[1] and "fig" in merged[1] and merged[2] == ""


def test_a_table_over_three_pages_records_all_of_them() -> None:
    pages = {1: table("| a | 1 |"), 2: table("| b | 2 |"), 3: table("| c | 3 |") + "\n\nEnd."}
    merged = merge_continued_tables(pages)
    assert merged[1] == "<!-- table: pages 1-3 -->\n\n" + table(
        "| a | 1 |", "| b | 2 |", "| c | 3 |"
    )
    assert (merged[2], merged[3]) == ("", "End.")


def test_tables_apart_stay_apart() -> None:
    other = "| Site | Count | Year |\n| --- | --- | --- |\n| north | 3 | 2020 |"
    pages = {
        1: table("| apple | 12 |"),
        2: other,  # other columns: another table
        3: "A paragraph first.\n\n" + table("| pear | 7 |"),  # text before it
        4: "Text.\n\n" + table("| fig | 9 |") + "\n\nText after.",  # not the page's end
        5: table("| kiwi | 1 |"),
    }
    assert merge_continued_tables(pages) == pages


def test_html_tables_with_spans_are_merged_row_by_row() -> None:
    upper = (
        '<table><thead><tr><th colspan="2">Stock</th></tr></thead>'
        "<tbody><tr><td>apple</td><td>12</td></tr></tbody></table>"
    )
    lower = (
        '<table><thead><tr><th colspan="2">Stock</th></tr></thead>'
        '<tbody><tr><td rowspan="2">pear</td><td>7</td></tr><tr><td>8</td></tr></tbody></table>'
    )
    merged = merge_continued_tables({1: upper, 2: lower})
    assert merged[1] == (
        "<!-- table: pages 1-2 -->\n\n"
        '<table><thead><tr><th colspan="2">Stock</th></tr></thead><tbody>'
        '<tr><td>apple</td><td>12</td></tr><tr><td rowspan="2">pear</td><td>7</td></tr>'
        "<tr><td>8</td></tr></tbody></table>"
    )
    assert merge_continued_tables({1: upper, 2: table("| a | b |")}) == {
        1: upper,
        2: table("| a | b |"),
    }


def test_the_markdown_file_holds_the_merged_table(tmp_path) -> None:
    from docfleet.io.sinks.markdown import MarkdownSink, markdown_path
    from docfleet.page.continued_tables import then_merge_tables

    sink = MarkdownSink(tmp_path, compose=then_merge_tables(lambda name, pages: pages))
    pages = {1: "Stock:\n\n" + table("| apple | 12 |"), 2: table("| plum | 3 |") + "\n\nEnd."}
    for page, markdown in pages.items():
        record = {"document": "stock.pdf", "page": page, "pages": 2, "status": "ok"}
        sink.add({**record, "markdown": markdown})
    written = markdown_path(tmp_path, "stock.pdf").read_text(encoding="utf-8")
    assert "<!-- table: pages 1-2 -->\n\n" + table("| apple | 12 |", "| plum | 3 |") in written
    assert written.count("| Name | Count |") == 1 and written.rstrip().endswith("End.")


def test_pages_jsonl_marks_where_a_table_goes_on_from_the_page_before() -> None:
    from docfleet.page.continued_tables import Continuations

    def record(page: int, *blocks: dict) -> dict:
        return {"document": "d.pdf", "page": page, "pages": 4, "status": "ok",
                "blocks": list(blocks)}  # fmt: skip

    def grid(cols: int) -> dict:
        return {"type": "table", "text": "\t".join(["x"] * cols), "cols": cols}

    text, foot = {"type": "text", "text": "Prose."}, {"type": "footer", "text": "7"}
    pages = [
        record(1, text, grid(3), foot),  # a table closes page 1 (the footer is apart)
        record(2, grid(3)),  # fills page 2
        record(3, {"type": "table", "text": "a\tb\tc\nd\te\tf"}, text),  # rows of cells, 3 wide
        record(4, grid(3)),  # after prose: a table of its own
    ]
    marker = Continuations()
    for page in pages:
        marker.mark(page)
    assert pages[1]["blocks"][0]["continues"] == 1
    assert pages[2]["blocks"][0]["continues"] == 1  # the same table, begun on page 1
    assert "continues" not in pages[3]["blocks"][0] and "continues" not in pages[0]["blocks"][1]
    other = [record(1, grid(3)), record(2, grid(4))]  # other columns: another table
    for page in other:
        marker.mark(page)
    assert "continues" not in other[1]["blocks"][0]

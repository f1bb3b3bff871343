"""Which text-layer pages the table model reads: real pages whose rows make a table whole keep
it, pages whose rows do not are rendered for the layout and table models."""

from __future__ import annotations

from pathlib import Path

import pytest

from docfleet.documents.sources import load_page
from docfleet.page.blocks import Block
from docfleet.page.text_tables import clean_tables, needs_table_model, rectangular
from docfleet.page.types import PageTask, Region, TextLine

REAL = Path(__file__).parents[1] / "data" / "real"


def text_layer(name: str):
    task = PageTask(str(REAL / name), "pdf", 1, 1)
    return load_page(task, want_image=False, want_text_layer=True, dpi=150,
                     max_pixels=40_000_000, password=None)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "needed"),
    [
        ("r-console-table.pdf", True),  # "trt=A, relapse 693" runs two cells into one
        ("table-booktabs.pdf", True),  # its first tableau is drawn as a grid
        ("docbook-wrapped-table.pdf", True),  # rows whole, but ruled: its pixels say if a grid
        ("cairo-kerned-text.pdf", False),  # two features tables of three cells a row
        ("two-column-paper.pdf", False),  # columns of prose are rows of two "cells"
        ("toc-dot-leaders.pdf", False),  # a contents page
        ("latex-ligatures.pdf", False),
    ],
)
def test_only_pages_whose_rows_make_no_clean_table_need_the_model(name: str, needed: bool):
    page = text_layer(name)
    assert needs_table_model(page.text_lines, page.width, page.height, page.rulings) is needed


def test_rulings_are_counted_from_the_pages_paths():
    ruled, plain = text_layer("docbook-wrapped-table.pdf"), text_layer("cairo-kerned-text.pdf")
    assert ruled.rulings >= 4  # rulings between its columns
    assert plain.rulings == 0
    assert text_layer("two-column-paper.pdf").rulings < 12  # a code box's sides


def table(rows: list[list[str]], top: float) -> Block:
    block = Block("table", (0, top, 100, top + 10 * len(rows)), 1.0)
    block.cells = rows
    return block


def test_a_table_with_rows_of_other_lengths_is_not_clean():
    assert rectangular(table([["a", "b"], ["1", "2"], ["3", "4"]], 0))
    assert rectangular(table([["span"], ["1", "2"], ["3", "4"]], 0))  # a header over both
    assert not rectangular(table([["a", "b"], ["1", "2"], ["3"]], 0))  # a wrapped cell
    assert not rectangular(table([["a", "b", "c"], ["1", "2"], ["3", "4"]], 0))


def test_tables_are_whole_when_a_heading_parts_them_and_not_when_text_does():
    region = Region("table", (0, 0, 100, 200), 0.9)
    first, second = table([["a", "b"], ["1", "2"]], 0), table([["c", "d"], ["3", "4"]], 100)
    heading = Block("title", (0, 60, 50, 70), 1.0, [TextLine("B hook", (0, 60, 50, 70))])
    note = Block("text", (0, 60, 50, 70), 1.0, [TextLine("5 6", (0, 60, 50, 70))])
    assert clean_tables(region, [first, heading, second])
    assert not clean_tables(region, [first, note, second])  # a table's rows the rule lost
    inside = Block("text", (0, 5, 50, 12), 1.0, [TextLine("x", (0, 5, 50, 12))])
    assert not clean_tables(region, [first, inside])
    assert not clean_tables(region, [heading])  # no table at all

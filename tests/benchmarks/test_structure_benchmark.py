"""The scores of benchmarks/structure.py on small made-up tables and pages; no model runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("table_recognition_metric")
pytest.importorskip("rapidfuzz")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from common.structure_metrics import (
    Body,
    blocks_html,
    body_elements,
    order_edit_distance,
    pubtabnet_html,
    shown_blocks,
    teds,
    text_edit_distance,
)

TWO_BY_TWO = (
    "<table><thead><tr><th>Name</th><th>Age</th></tr></thead>"
    "<tbody><tr><td>Ann</td><td>42</td></tr></tbody></table>"
)


def test_teds_of_identical_html_is_one() -> None:
    assert teds(TWO_BY_TWO, TWO_BY_TWO) == 1.0
    assert teds(TWO_BY_TWO, TWO_BY_TWO, structure_only=True) == 1.0


def test_a_different_structure_scores_below_one() -> None:
    merged = (
        '<table><thead><tr><th colspan="2">Name Age</th></tr></thead>'
        "<tbody><tr><td>Ann</td><td>42</td></tr></tbody></table>"
    )
    assert teds(merged, TWO_BY_TWO) < 1.0
    assert teds(merged, TWO_BY_TWO, structure_only=True) < 1.0
    assert teds("", TWO_BY_TWO) == 0.0


def test_text_alone_differs_only_in_full_teds() -> None:
    typo = TWO_BY_TWO.replace("Ann", "Anne")
    assert teds(typo, TWO_BY_TWO) < 1.0
    assert teds(typo, TWO_BY_TWO, structure_only=True) == 1.0


def test_the_pubtabnet_reference_fills_cell_tokens_into_the_structure() -> None:
    annotation = {
        "structure": {
            "tokens": ["<thead>", "<tr>", "<td", ' colspan="2"', ">", "</td>", "</tr>",
                       "</thead>", "<tbody>", "<tr>", "<td>", "</td>", "<td>", "</td>",
                       "</tr>", "</tbody>"]
        },
        "cells": [
            {"tokens": ["<b>", "T", "&", "</b>"]},
            {"tokens": ["1", "<", "2"]},
            {"tokens": []},
        ],
    }  # fmt: skip
    assert pubtabnet_html(annotation) == (
        '<html><body><table><thead><tr><td colspan="2"><b>T&amp;</b></td></tr></thead>'
        "<tbody><tr><td>1&lt;2</td><td></td></tr></tbody></table></body></html>"
    )


def test_blocks_become_a_table_as_the_markdown_shows_them() -> None:
    blocks = [
        {"type": "table", "text": "Name\tAge\nAnn\t42\nBob"},
        {"type": "text", "text": "a note\nsecond line"},
    ]
    assert blocks_html(blocks) == (
        "<html><body><table><thead><tr><td>Name</td><td>Age</td></tr></thead><tbody>"
        "<tr><td>Ann</td><td>42</td></tr><tr><td>Bob</td><td></td></tr>"
        "<tr><td>a note</td></tr><tr><td>second line</td></tr></tbody></table></body></html>"
    )
    assert teds(blocks_html(blocks[:1]), blocks_html(blocks[:1])) == 1.0


PAGE = [
    {"category_type": "header", "order": None, "text": "Journal of Things 12 (2024)"},
    {"category_type": "title", "order": 1, "text": "1. Introduction"},
    {"category_type": "text_block", "order": 2, "text": "Tables hold numbers in rows."},
    {"category_type": "table", "order": 3, "text": "", "html": TWO_BY_TWO},
    {"category_type": "text_block", "order": 4, "text": "Figures hold pictures instead."},
    {"category_type": "text_block", "order": 5, "text": "Nobody wrote this one down."},
    {"category_type": "page_number", "order": None, "text": "7"},
    {"category_type": "footer", "order": None, "text": "Printed in the land of examples"},
]
DOCFLEET_BLOCKS = [
    {"type": "header", "text": "Journal of Things 12 (2024)"},
    {"type": "text", "text": "Figures hold pictures\ninstead."},
    {"type": "title", "text": "1. Introduction"},
    {"type": "text", "text": "Tables hold numbres in rows."},
    {"type": "text", "text": "7"},
]


def test_the_reference_body_leaves_out_furniture_and_tables_in_reading_order() -> None:
    assert [e["order"] for e in body_elements(PAGE)] == [1, 2, 4, 5]


def test_blocks_are_found_fuzzily_and_their_order_compared() -> None:
    body = Body(line for b in shown_blocks(DOCFLEET_BLOCKS) for line in b["text"].split("\n"))
    positions = [body.find(e["text"]) for e in body_elements(PAGE)]
    assert [p is not None for p in positions] == [True, True, True, False]  # one typo is fine
    assert order_edit_distance(positions) == pytest.approx(2 / 3)  # the third found came first
    assert order_edit_distance([0, None]) is None


def test_furniture_left_out_of_the_body() -> None:
    """The header block is not in the Markdown body; the page number is, as a line of its own."""
    body = Body(line for b in shown_blocks(DOCFLEET_BLOCKS) for line in b["text"].split("\n"))
    furniture = [e for e in PAGE if e["category_type"] in ("header", "footer", "page_number")]
    left_out = {e["category_type"]: body.find(e["text"]) is None for e in furniture}
    assert left_out == {"header": True, "page_number": False, "footer": True}
    assert Body(["17 apples"]).find("7") is None  # a short text must be a whole line


def test_text_edit_distance_ignores_whitespace() -> None:
    assert text_edit_distance("a b\nc", "abc") == 0.0
    assert text_edit_distance("abcd", "abce") == pytest.approx(0.25)


def test_a_peers_rows_become_a_table_with_merged_cells_left_empty() -> None:
    from born_digital_tables import rows_html

    made = rows_html([["Name", "Age"], ["Ann", None], ["B<b", "7"]])
    ref = "<table><tr><td>Name</td><td>Age</td></tr><tr><td>Ann</td><td></td></tr>"
    assert teds(made, ref + "<tr><td>B&lt;b</td><td>7</td></tr></table>") == 1.0
    assert teds(made, ref + "</table>") < 1.0

"""GitHub tables from a table block's rows of cells: columns as the fullest rows span them.

The real page this mirrors is gnuplot's ``set border`` table (a numbers column, then centred
columns whose cells start wherever their width puts them).
"""

from __future__ import annotations

import re

from docfleet.page.blocks import Block
from docfleet.page.markdown import page_markdown
from docfleet.page.types import TextLine


def row(y: float, *cells: tuple[str, float]) -> TextLine:
    parts = tuple(TextLine(t, (x, y, x + 9 * len(t), y + 19), font_size=19.0) for t, x in cells)
    box = (parts[0].bbox[0], y, parts[-1].bbox[2], y + 19)
    return TextLine(" ".join(t for t, _ in cells), box, font_size=19.0, parts=parts)


def centred(text: str, middle: float) -> tuple[str, float]:
    return text, middle - 4.5 * len(text)


def test_centred_columns_are_one_column_each():
    lines = [
        row(100, ("Bit", 470), centred("plot", 575), centred("splot", 720)),
        row(125, ("1", 475), centred("bottom", 575), centred("bottom left front", 720)),
        row(150, ("2", 475), centred("left", 575), centred("bottom left back", 720)),
        row(175, ("16", 475), centred("no effect", 575), centred("left vertical", 720)),
        row(200, ("4096", 470), centred("polar", 575), centred("no effect", 720)),
    ]
    block = Block("table", (470, 100, 800, 219), 1.0)
    for line in lines:
        block.add(line)
    md = page_markdown([block])
    table = [r for r in md.splitlines() if r.startswith("|")]
    assert table[0] == "| Bit | plot | splot |"
    assert "| 2 | left | bottom left back |" in table
    assert "| 4096 | polar | no effect |" in table
    assert all(len(re.findall(r"(?<!\\)\|", r)) == 4 for r in table)  # three columns each

r"""Printing the figures: tables as aligned plain text or as Markdown, verdicts, the JSON file.

>>> table = Table(Column("system", 8, "<"), Column("pages/s", 7))
>>> table.add("docfleet", "12.50")
>>> table.note("peer", "ERROR not installed")
>>> print(table.render())
system   pages/s
docfleet   12.50
peer     ERROR not installed
>>> print(table.render(markdown=True))
<BLANKLINE>
| system | pages/s |
| --- | ---: |
| docfleet | 12.50 |
| peer | ERROR not installed |
<BLANKLINE>
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VERDICTS = {True: "met", False: "MISSED", None: "not measured"}


def verdict(ok: bool | None) -> str:
    """A target's check as printed: met, MISSED or not measured."""
    return VERDICTS[ok]


def fmt(value: float | None, digits: int = 4) -> str:
    """A figure with ``digits`` decimals, ``n/a`` when it was not measured."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def cell(figures: Mapping[str, Any], key: str, spec: str, missing: str = "-") -> str:
    """``figures[key]`` formatted by ``spec``, or ``missing`` when it is absent or None."""
    value = figures.get(key)
    return missing if value is None else format(value, spec)


@dataclass(frozen=True)
class Column:
    """A column: its title, its plain-text width and alignment (``>`` or ``<``), and the
    spaces before it (``gap``: two to set groups of columns apart)."""

    title: str
    width: int = 0
    align: str = ">"
    gap: int = 1


class Table:
    """Rows of formatted cells under titled columns; the last column may run on freely."""

    def __init__(self, *columns: Column) -> None:
        self.columns = columns
        self.rows: list[tuple[list[str], str | None, int]] = []

    def add(self, *cells: str) -> None:
        """A row; cells left out stay empty."""
        self.rows.append((list(cells), None, 0))

    def note(self, *cells: str, gap: int = 1) -> None:
        """A row of leading cells, its last argument a text over the remaining columns (an
        error, a remark), ``gap`` spaces after them."""
        *lead, text = cells
        self.rows.append((lead, text, gap))

    def _plain_line(self, cells: list[str], text: str | None = None, gap: int = 0) -> str:
        parts = []
        for i, (column, value) in enumerate(zip(self.columns, cells, strict=False)):
            space = " " * column.gap if i else ""
            parts.append(f"{space}{value:{column.align}{column.width}}")
        if text is not None:
            parts.append(" " * gap + text if cells else text)
        return "".join(parts).rstrip()

    def plain(self) -> list[str]:
        """The header and the rows, aligned."""
        header = self._plain_line([c.title for c in self.columns])
        return [header, *(self._plain_line(*row) for row in self.rows)]

    def markdown(self) -> list[str]:
        """The table in Markdown, cells stripped and their ``|`` escaped."""

        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.strip().replace("|", r"\|") for c in cells) + " |"

        rule = ["---:" if c.align == ">" else "---" for c in self.columns]
        rows = []
        for cells, text, _ in self.rows:
            full = [*cells, *([text] if text is not None else [])]
            rows.append(line(full + [""] * (len(self.columns) - len(full))))
        return [line([c.title for c in self.columns]), "| " + " | ".join(rule) + " |", *rows]

    def render(self, markdown: bool = False) -> str:
        """Plain text, or Markdown set apart by blank lines."""
        return "\n".join(["", *self.markdown(), ""] if markdown else self.plain())


def add_output_options(parser: argparse.ArgumentParser, markdown: bool = True) -> None:
    """``--json PATH`` and, for scripts that print tables, ``--markdown``."""
    parser.add_argument("--json", metavar="PATH", help="write the figures here as one JSON object")
    if markdown:
        parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")


def write_json(figures: dict[str, Any], path: str | None) -> None:
    """The figures as one JSON object at ``path`` (nothing when ``path`` is empty)."""
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2, ensure_ascii=False)
            fh.write("\n")

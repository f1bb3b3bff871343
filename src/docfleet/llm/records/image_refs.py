"""Table records that name an image or a PDF page in a column, for vision-language extraction.

``--image-column scan`` makes each row's ``scan`` value the picture its model sees: a path to
an image or a PDF, relative to the folder of the CSV/JSONL file holding the row (or absolute),
with ``#N`` for page N of a PDF or frame N of an image (page 1 otherwise). The row's other
columns stay prompt variables. A reference that cannot be shown (an empty cell, a missing or
unreadable file, a page past the end) makes that row an error record; files are inspected
once however many rows name them, and pixels are made in the worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from docfleet.documents.pdf.errors import DocumentError
from docfleet.llm.records.tabular import Record
from docfleet.page.types import DocumentKind, PageTask

_PAGE = re.compile(r"^(?P<path>.+?)#(?P<page>\d+)$")


def split_reference(value: str) -> tuple[str, int]:
    """The path and 1-based page of a reference such as ``scans/a.pdf#3``.

    >>> split_reference("scans/a.pdf#3"), split_reference("b.png")
    (('scans/a.pdf', 3), ('b.png', 1))
    """
    match = _PAGE.match(value.strip())
    if match is None:
        return value.strip(), 1
    return match["path"], int(match["page"])


def attach_images(
    records: Iterable[Record], column: str, *, password: str | None = None
) -> list[Record]:
    """``records`` with ``page`` set from ``column``; rows whose reference fails become errors.

    Raises ``ValueError`` when no readable row has the column (a misspelt name).
    """
    from docfleet.documents.sources import inspect_document

    found: dict[Path, tuple[DocumentKind | None, int, DocumentError | None]] = {}
    out: list[Record] = []
    rows = with_column = 0
    for record in records:
        if record.error:
            out.append(record)
            continue
        rows += 1
        value = record.fields.get(column)
        with_column += value is not None
        if not (value or "").strip():
            out.append(_failed(record, "BadImage", f"column {column!r} is empty: no image"))
            continue
        name, page = split_reference(value or "")
        path = (_table_folder(record) / name).absolute()  # for workers with another cwd
        if path not in found:
            found[path] = inspect_document(path, password)
        kind, pages, error = found[path]
        if error is not None:
            out.append(_failed(record, error.kind, f"column {column!r}: {error.message}"))
        elif not 1 <= page <= pages:
            message = f"column {column!r}: {path} has {pages} page(s), not page {page}"
            out.append(_failed(record, "BadImage", message))
        else:
            out.append(replace(record, page=PageTask(str(path), kind, page, pages)))
    if rows and not with_column:
        columns = sorted({c for r in out for c in r.fields})
        raise ValueError(
            f"--image-column {column!r} is not a column of the input; its columns are: "
            f"{', '.join(columns) or 'none'}"
        )
    return out


def _table_folder(record: Record) -> Path:
    """The folder of the file a record was read from (its source is ``file:row``)."""
    return Path(record.source.rsplit(":", 1)[0]).parent


def _failed(record: Record, kind: str, message: str) -> Record:
    return replace(record, error=message, error_type=kind)

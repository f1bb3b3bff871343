"""Input records for extraction: rows of CSV/TSV and JSON Lines files.

Reading never stops on bad input: a row or line that cannot be used becomes a ``Record`` that
carries its error, so every input still gets exactly one output line. Only usage errors (a
missing path, an unknown encoding, a ``--text-column`` the files lack) raise ``RecordError``,
and they do so before the first record.

Ids are the ``id_column`` value, else ``<file stem>:<n>``: ``n`` is the data row (the header
is row 0) in CSV/TSV files and the line number in JSON Lines files. A file holding only a
header yields no records at all.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docfleet.io.inputs import find_inputs
from docfleet.llm.records.text_lines import DecodedLines, first_bad_byte, suggest_encoding
from docfleet.page.types import PageTask

TABLE_SUFFIXES = (".csv", ".tsv")
LINES_SUFFIXES = (".jsonl", ".ndjson")

# What a file reader yields: row number, source, values (or None) and (error, error type).
Row = tuple[int, str, "dict[str, Any] | None", "tuple[str, str] | None"]


class RecordError(ValueError):
    """The inputs cannot be read as asked (a usage error, raised before any record)."""


@dataclass(frozen=True)
class Record:
    """One input item: its id, its column values as text, and where it came from.

    ``page`` is the document page a vision-language model is shown (``None`` for table rows).

    >>> Record("a:1", {"text": "hi"}, "a.csv:2").error
    ''
    """

    id: str
    fields: dict[str, str]
    source: str
    error: str = ""
    error_type: str = ""
    page: PageTask | None = None


def read_records(
    path: str | Path,
    *,
    id_column: str | None = None,
    text_column: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[Record]:
    """Records of a CSV/TSV/JSONL file, or of every such file in a folder (sorted by path).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     csv_file = pathlib.Path(tmp, "notes.csv")
    ...     _ = csv_file.write_text("id,text\\nn1,fever\\n")
    ...     [(r.id, r.fields) for r in read_records(csv_file, id_column="id")]
    [('n1', {'id': 'n1', 'text': 'fever'})]
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise RecordError(f"unknown encoding {encoding!r} (try utf-8, utf-16 or latin-1)") from None
    root = Path(path)
    files = _record_files(root)
    wanted = [c for c in (id_column, text_column) if c]
    for file in files:
        columns = _first_columns(file, encoding)
        missing = [c for c in wanted if columns is not None and c not in columns]
        if missing:
            kind = "text" if missing[0] == text_column else "id"
            raise RecordError(
                f"{kind} column {missing[0]!r} is not in {file}; "
                f"its columns: {', '.join(columns or []) or '(none)'}"
            )
    return _read_all(root, files, id_column, text_column, encoding)


def data_lines(path: str | Path) -> int:
    """Physical lines that hold data in a record file, or in every one in a folder: non-blank
    lines, a CSV/TSV file's header left out (a quoted field may span several of them)."""
    total = 0
    for file in _record_files(Path(path)):
        with open(file, "rb") as fh:
            count = sum(1 for line in fh if line.strip())
        total += max(0, count - 1) if file.suffix.lower() in TABLE_SUFFIXES else count
    return total


def _record_files(root: Path) -> list[Path]:
    suffixes = TABLE_SUFFIXES + LINES_SUFFIXES
    if root.is_dir():
        files = [p for p in find_inputs([root]) if p.suffix.lower() in suffixes]
        if not files:
            raise RecordError(f"no {', '.join(suffixes)} files in the folder {root}")
        return files
    if not root.is_file():
        raise RecordError(f"input {str(root)!r} does not exist")
    if root.suffix.lower() not in suffixes:
        raise RecordError(f"cannot read {root}: expected a {', '.join(suffixes)} file or a folder")
    return [root]


def _read_all(
    root: Path, files: list[Path], id_column: str | None, text_column: str | None, encoding: str
) -> Iterator[Record]:
    seen: dict[str, str] = {}
    for file in files:
        stem = file.relative_to(root).with_suffix("").as_posix() if root.is_dir() else file.stem
        reader = _table_rows if file.suffix.lower() in TABLE_SUFFIXES else _json_rows
        for number, source, row, error in _decoded(file, encoding, reader):
            record = _record(stem, number, source, row, error, id_column, text_column)
            if not record.error and record.id in seen:
                record = _failed(
                    record.id,
                    source,
                    f"duplicate id {record.id!r} (first at {seen[record.id]})",
                    "DuplicateId",
                    record.fields,
                )
            seen.setdefault(record.id, source)
            yield record


def _record(
    stem: str,
    number: int,
    source: str,
    row: dict[str, Any] | None,
    error: tuple[str, str] | None,
    id_column: str | None,
    text_column: str | None,
) -> Record:
    """A row turned into a record: its id and text checked, its values made strings."""
    default_id = f"{stem}:{number}" if number else stem
    if error is not None or row is None:
        message, kind = error or ("unreadable row", "MalformedRow")
        return _failed(default_id, source, message, kind)
    fields = {key: _text(value) for key, value in row.items()}
    for column in (id_column, text_column):
        if column and column not in row:
            has = ", ".join(row) or "(no keys)"
            return _failed(
                default_id,
                source,
                f"no {column!r} value; this row has: {has}",
                "MissingColumn",
                fields,
            )
    record_id = fields[id_column] if id_column else default_id
    if id_column and _blank(row[id_column]):
        return _failed(default_id, source, f"empty id in column {id_column!r}", "EmptyId", fields)
    if text_column and _blank(row[text_column]):
        message = f"empty text in column {text_column!r}"
        return _failed(record_id, source, message, "EmptyText", fields)
    return Record(record_id, fields, source)


def _failed(
    record_id: str, source: str, message: str, kind: str, fields: dict[str, str] | None = None
) -> Record:
    return Record(record_id, fields or {}, source, error=message, error_type=kind)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    """A value as prompt text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _decoded(
    file: Path, encoding: str, reader: Callable[[Path, DecodedLines], Iterator[Row]]
) -> Iterator[Row]:
    """Rows of ``file``; an encoding error ends them with one error row at the bad line."""
    try:
        if file.stat().st_size == 0:
            yield 0, str(file), None, ("empty file", "EmptyFile")
            return
        bad = first_bad_byte(file, encoding)
        with open(file, "rb") as raw:
            lines = DecodedLines(raw, encoding, bad=bad)
            yield from reader(file, lines)
        if lines.bad_reason is None:
            return
        line = lines.count + 1
        message = (
            f"not valid {encoding} from line {line} on ({lines.bad_reason}); that line and the "
            f"rest of the file were not read: pass the file's encoding, "
            f"e.g. --encoding {suggest_encoding(file, encoding)}"
        )
        number = line if reader is _json_rows else lines.rows + 1  # as the reader numbers rows
        yield number, f"{file}:{line}", None, (message, "EncodingError")
    except OSError as exc:
        yield 0, str(file), None, (f"cannot read the file: {exc.strerror or exc}", "UnreadableFile")


def _table_rows(file: Path, lines: DecodedLines) -> Iterator[Row]:
    """Rows of a CSV/TSV file as dicts keyed by the header."""
    reader, header = _table_header(file, lines)
    if header is None:  # nothing but blank lines, or the first line is undecodable
        if lines.bad_reason is None:
            yield 0, str(file), None, ("empty file", "EmptyFile")
        return
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        message = f"duplicate column names in the header: {', '.join(duplicates)}; rename them"
        yield 0, f"{file}:1", None, (message, "BadHeader")
        return
    lines.taken = []
    while True:
        start = lines.count + 1  # the csv reader reads no further than the row it returns
        lines.taken.clear()
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if lines.done and lines.bad_reason:
                return  # the row runs into the undecodable line, reported after the rows
            yield from _line_by_line(file, start, list(lines.taken), header, lines, str(exc))
            continue
        if not values:
            continue  # a blank line
        if lines.done and _unclosed(lines.taken, reader.dialect.delimiter):
            if lines.bad_reason:
                return  # the row runs into the undecodable line, reported after the rows
            reason = "unexpected end of data"
            yield from _line_by_line(file, start, list(lines.taken), header, lines, reason)
            return
        lines.rows += 1
        source = f"{file}:{start}"
        if len(values) != len(header):
            message = f"expected {len(header)} fields as in the header, found {len(values)}"
            yield lines.rows, source, None, (message, "MalformedRow")
        else:
            yield lines.rows, source, dict(zip(header, values, strict=True)), None


def _line_by_line(
    file: Path, start: int, taken: list[str], header: list[str], lines: DecodedLines, why: str
) -> Iterator[Row]:
    """A row the csv reader could not close, read again one physical line at a time: the line
    that opened the bad quote is an error, each line after it a row of its own (no row
    swallows the rows after it)."""
    delimiter = _delimiter(",".join(header)) if file.suffix.lower() != ".tsv" else "\t"
    for offset, line in enumerate(taken):
        if not line.strip():
            continue
        lines.rows += 1
        source = f"{file}:{start + offset}"
        if offset == 0:
            after = len(taken) - 1
            message = f"unreadable row: {_quote_problem(why)}" + (
                f"; the {after} lines after it are read as rows of their own" if after else ""
            )
            yield lines.rows, source, None, (message, "MalformedRow")
            continue
        try:
            (values,) = list(csv.reader([line], delimiter=delimiter, strict=True))
        except (csv.Error, ValueError) as exc:
            yield lines.rows, source, None, (f"unreadable row: {exc}", "MalformedRow")
            continue
        if len(values) != len(header):
            message = f"expected {len(header)} fields as in the header, found {len(values)}"
            yield lines.rows, source, None, (message, "MalformedRow")
        else:
            yield lines.rows, source, dict(zip(header, values, strict=True)), None


def _quote_problem(why: str) -> str:
    if "unexpected end of data" in why:
        return "a quoted field opened in this line is never closed"
    if "expected after" in why:
        return "a quoted field opened in this line closes in the middle of a later field"
    return why


def _table_header(file: Path, lines: Iterable[str]) -> tuple[Any, list[str] | None]:
    """The csv reader positioned after the header, and the header (None if there is none)."""
    lines = iter(lines)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return None, None
    delimiter = "\t" if file.suffix.lower() == ".tsv" else _delimiter(first)
    reader = csv.reader(_chain(first, lines), delimiter=delimiter, strict=True)
    try:
        return reader, next(reader)
    except (StopIteration, csv.Error):
        return reader, None


def _unclosed(row_lines: list[str], delimiter: str) -> bool:
    """True when the last row of a file ends inside a quoted field (csv accepts it silently)."""
    try:
        list(csv.reader(row_lines, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _delimiter(header: str) -> str:
    """Comma, unless the header line has none and uses ``;``, a tab or ``|`` instead."""
    if "," in header:
        return ","
    counts = {d: header.count(d) for d in ";\t|"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _json_rows(file: Path, lines: DecodedLines) -> Iterator[Row]:
    """Objects of a JSON Lines file, one per non-blank line."""
    for line in lines:
        if not line.strip():
            continue
        number = lines.count
        lines.rows += 1
        source = f"{file}:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON on line {number}: {exc.msg} at column {exc.colno}"
            yield number, source, None, (message, "InvalidJSON")
            continue
        if not isinstance(value, dict):
            message = f"line {number} holds a JSON {_json_kind(value)}, not an object"
            yield number, source, None, (message, "NotAnObject")
            continue
        yield number, source, value, None
    if lines.rows == 0 and lines.bad_reason is None:
        yield 0, str(file), None, ("empty file", "EmptyFile")


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _first_columns(file: Path, encoding: str) -> list[str] | None:
    """The header of a CSV/TSV file, or the keys of a JSONL file's first object (None: unknown)."""
    try:
        with open(file, encoding=encoding, errors="replace", newline="") as fh:
            head = (line.removeprefix("\ufeff") for line in fh)
            if file.suffix.lower() in TABLE_SUFFIXES:
                columns = _table_header(file, head)[1]
            else:
                objects = (_object(line) for line in head)
                columns = next((list(o) for o in objects if o is not None), None)
    except OSError:
        return None
    if columns and any("\ufffd" in c or "\x00" in c for c in columns):
        return None  # a wrong encoding: the reading itself reports it
    return columns


def _object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None

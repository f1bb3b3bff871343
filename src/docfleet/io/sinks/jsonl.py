"""``pages.jsonl``: one JSON line per page, written whole, and the record of what is done."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


class JsonlSink:
    """Appends one line per record; on open, repairs a line cut short by a killed run. A key
    that starts with ``_`` is private to the run (a formula's PNG bytes on their way to the
    Markdown sink) and is not written.

    Each record goes out in a single ``write`` of a complete line followed by a flush, so a
    reader never sees half a record from a live run; a run killed mid-write leaves at most a
    partial last line, which the next open removes before appending.
    """

    def __init__(self, path: str | Path, *, resume: bool, fsync_every: int = 200) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            _drop_partial_line(self.path)
        self._fh: IO[str] = open(self.path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115
        self._fsync_every = fsync_every
        self._since_sync = 0

    def write(self, record: dict[str, Any]) -> None:
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        line = json.dumps(public, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._fh.write(line)
        self._fh.flush()
        self._since_sync += 1
        if self._since_sync >= self._fsync_every:
            os.fsync(self._fh.fileno())
            self._since_sync = 0

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every complete record in a JSONL file (a cut-short last line is skipped)."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.endswith("\n"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def rewrite_records(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace the file with ``records`` in one step: a crash leaves the old file or the new."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with JsonlSink(tmp, resume=False) as sink:
        for record in records:
            sink.write(record)
    tmp.replace(path)


def _drop_partial_line(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)

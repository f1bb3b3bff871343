"""``chunks.parquet``: one row per embedded chunk, written so that a killed run loses nothing.

A Parquet file can be read only once its footer is written, so a run killed before it closes
the file would leave nothing readable. The sink therefore works in two steps:

1. **During the run** each page's rows are appended to ``chunks.parquet.journal``, an Arrow IPC
   stream, and flushed to the OS at once (``fsync`` every ``fsync_every`` pages), as
   ``pages.jsonl`` is. A stream can be read up to its last complete batch, so a kill costs at
   most the page being written.
2. **On close** the journal is copied into ``chunks.parquet`` in row groups of
   ``row_group_rows`` rows (``pyarrow.parquet.ParquetWriter``), through a temporary file and
   ``os.replace``; then the journal is deleted.

**Resume.** ``ChunkParquetSink(path, keep_ids=done)`` keeps the rows of the pages in ``done``
from both files, writes them to a fresh journal (temporary file, then ``os.replace``), deletes
the old Parquet file and appends after them. Rows of other pages are dropped, since those pages
will be done again. Where both files hold a page (a kill between two of these steps), the
journal's rows win: it is always the newer. Write a page's chunks here *before* its line in
``pages.jsonl``; then every page that ``pages.jsonl`` calls done has its rows here, and a resume
from ``pages.jsonl``'s ids neither loses nor duplicates a row. ``keep_ids=None`` starts afresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BBOX = pa.list_(pa.float32(), 4)


def chunk_schema(dim: int | None) -> pa.Schema:
    """The rows' schema; ``vector`` is a fixed-size list of ``dim`` float32 (a plain list of
    float32 when ``dim`` is unknown, which only an empty file can be)."""
    vector = pa.list_(pa.float32(), dim) if dim else pa.list_(pa.float32())
    return pa.schema([
        ("id", pa.string()), ("document", pa.string()), ("page", pa.int32()),
        ("chunk", pa.int32()), ("block", pa.int32()), ("type", pa.string()),
        ("text", pa.string()), ("bbox", BBOX), ("vector", vector),
    ])  # fmt: skip


class ChunkParquetSink:
    """Collects the ``chunks`` of page records (see :class:`~docfleet.stages.embed.EmbedStage`)
    into ``path``, a Parquet file written on :meth:`close`; see the module for resume.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "chunks.parquet"
    >>> chunk = {"chunk": 0, "block": 0, "type": "text", "text": "Hi", "bbox": [0, 0, 9, 9],
    ...          "vector": [0.6, 0.8]}
    >>> page = {"id": "a.pdf#1", "document": "a.pdf", "page": 1, "chunks": [chunk]}
    >>> with ChunkParquetSink(out) as sink:
    ...     sink.write(page)
    >>> read_chunks(out).column("text").to_pylist()
    ['Hi']
    """

    def __init__(
        self,
        path: str | Path,
        *,
        keep_ids: set[str] | None = None,
        dim: int | None = None,
        row_group_rows: int = 4096,
        fsync_every: int = 200,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.journal = _journal_path(self.path)
        self._dim = dim
        self._row_group_rows = row_group_rows
        self._fsync_every = fsync_every
        self._since_sync = 0
        self._fh: IO[bytes] | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._closed = False
        tmp = self.journal.with_name(self.journal.name + ".tmp")
        for batch in _stored_batches(self.path, keep_ids) if keep_ids else ():
            if self._writer is None:
                self._dim = batch.schema.field("vector").type.list_size
                self._open(tmp)
            self._append(batch)
        if self._writer is not None:
            self._sync()
            os.replace(tmp, self.journal)  # the open handle follows the file
        else:
            self.journal.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        """Append the rows of one page record's ``chunks`` (a page without chunks adds none)."""
        chunks = record.get("chunks") or []
        if not chunks:
            return
        vectors = np.asarray([c["vector"] for c in chunks], dtype=np.float32)
        dim = vectors.shape[1]
        if self._dim is None:
            self._dim = dim
        elif dim != self._dim:
            raise ValueError(
                f"chunk vectors have {dim} dimensions but {self.path} holds {self._dim}; "
                "use the same model as the run being resumed, or start afresh"
            )
        columns = [
            [record["id"]] * len(chunks), [record.get("document")] * len(chunks),
            [record.get("page")] * len(chunks), [c["chunk"] for c in chunks],
            [c.get("block") for c in chunks], [c.get("type") for c in chunks],
            [c["text"] for c in chunks], [c.get("bbox") for c in chunks],
        ]  # fmt: skip
        schema = chunk_schema(dim)
        arrays = [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=False)]
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim))
        if self._writer is None:
            self._open(self.journal)
        self._append(pa.record_batch(arrays, schema=schema))
        self._since_sync += 1
        if self._since_sync >= self._fsync_every:
            self._sync()

    def close(self) -> None:
        """Write ``chunks.parquet`` from the journal, then delete the journal."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            assert self._fh is not None
            self._writer.close()
            self._sync()
            self._fh.close()
        schema = chunk_schema(self._dim)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            with pq.ParquetWriter(fh, schema) as writer:
                pending: list[pa.RecordBatch] = []
                rows = 0
                for batch in _journal_batches(self.journal):
                    pending.append(batch)
                    rows += batch.num_rows
                    if rows >= self._row_group_rows:
                        pending = _write_groups(writer, pending, self._row_group_rows)
                        rows = sum(b.num_rows for b in pending)
                if pending:
                    writer.write_table(pa.Table.from_batches(pending, schema=schema))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.journal.unlink(missing_ok=True)

    def __enter__(self) -> ChunkParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, path: Path) -> None:
        self._fh = open(path, "wb")  # noqa: SIM115 - held until close()
        self._writer = pa.ipc.new_stream(self._fh, chunk_schema(self._dim))

    def _append(self, batch: pa.RecordBatch) -> None:
        assert self._writer is not None and self._fh is not None
        self._writer.write_batch(batch)
        self._fh.flush()

    def _sync(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._since_sync = 0


def read_chunks(path: str | Path) -> pa.Table:
    """Every stored chunk row of ``path``: the Parquet file and, after a killed run, the
    complete pages of its journal."""
    path = Path(path)
    batches = list(_stored_batches(path, None))
    if batches:
        return pa.Table.from_batches(batches)
    if path.exists():
        return pq.read_table(path)
    if _journal_path(path).exists():
        return chunk_schema(None).empty_table()
    raise FileNotFoundError(f"no {path} (nor its journal)")


def _journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def _stored_batches(path: Path, keep_ids: set[str] | None) -> Iterator[pa.RecordBatch]:
    """Rows of the Parquet file, then of the journal, whose ids are kept (all when None);
    a page in the journal is taken from there only."""
    journal = _journal_path(path)
    newer: set[str] = set()
    for batch in _journal_batches(journal):
        newer.update(batch.column("id").to_pylist())
    keep = None if keep_ids is None else pa.array(sorted(keep_ids), pa.string())
    if path.exists():
        skip = pa.array(sorted(newer), pa.string())
        with pq.ParquetFile(path) as older:
            for batch in older.iter_batches():
                yield from _kept(batch, keep, skip)
    for batch in _journal_batches(journal):
        yield from _kept(batch, keep, None)


def _kept(batch: pa.RecordBatch, keep: pa.Array | None, skip: pa.Array | None) -> list:
    """``batch`` less the rows whose id is not in ``keep`` or is in ``skip``."""
    ids = batch.column("id")
    mask = None if skip is None else pc.invert(pc.is_in(ids, value_set=skip))
    if keep is not None:
        kept = pc.is_in(ids, value_set=keep)
        mask = kept if mask is None else pc.and_(mask, kept)
    batch = batch if mask is None else batch.filter(mask)
    return [batch] if batch.num_rows else []


def _journal_batches(journal: Path) -> Iterator[pa.RecordBatch]:
    """The complete batches of a journal; a batch cut short by a kill ends the stream."""
    if not journal.exists() or journal.stat().st_size == 0:
        return
    with pa.memory_map(str(journal)) as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:  # killed before the schema was written
            return
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError):  # the cut-short last batch
                return


def _write_groups(writer: pq.ParquetWriter, pending: list[pa.RecordBatch], rows: int) -> list:
    """Write whole row groups of ``rows`` rows from ``pending``; return the remainder."""
    table = pa.Table.from_batches(pending)
    full = table.num_rows - table.num_rows % rows
    writer.write_table(table.slice(0, full), row_group_size=rows)
    return table.slice(full).to_batches()

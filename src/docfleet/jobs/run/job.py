"""The main job: documents in, ``pages.jsonl`` + Markdown + ``run.json`` out, resumable.

Everything a user can get wrong (inputs, devices, the output path) is checked before the
output folder is created; the folder then has one writer at a time (``outdir.OutputLock``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docfleet.documents.sources import collect_pages
from docfleet.engine.fleet import Fleet, ResultStream
from docfleet.io.fingerprint import settings_fingerprint
from docfleet.io.outdir import OutputLock, check_output
from docfleet.io.sinks.jsonl import JsonlSink
from docfleet.io.sinks.markdown import MarkdownSink
from docfleet.jobs.common.records import page_record
from docfleet.jobs.common.resume import Resumed, still_to_do
from docfleet.jobs.run.config import DocumentOptions, RunConfig
from docfleet.jobs.run.report import RunReport, now_iso, write_run_json
from docfleet.jobs.run.resume import earlier_page_settings, resume_pages, source_stamp
from docfleet.page.continued_tables import Continuations, then_merge_tables
from docfleet.page.furniture import Furniture
from docfleet.page.types import PageTask
from docfleet.settings.engine import EngineOptions

__all__ = ["OutputFull", "RunReport", "map_pages", "page_tasks", "run_documents"]

#: The settings that shape a page's record; output lines carry their fingerprint.
PAGE_SETTINGS = (
    "pipeline", "ocr", "dpi", "max_pixels", "ocr_model", "ocr_det_side", "stages", "format",
)  # fmt: skip
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class OutputFull(RuntimeError):
    """Writing the output failed for want of space; what was written stays whole."""


def page_tasks(
    inputs: Sequence[str | Path], options: DocumentOptions, *, exclude: Path | None = None
) -> list[PageTask]:
    """Every page of every input document (a document that cannot be opened: one task).

    Files under ``exclude`` (the run's own output folder) are never inputs.
    """
    tasks, _ = collect_pages(
        inputs, password=options.password, exclude=exclude, skip_non_documents=False
    )
    return tasks


def map_documents(
    fleet: Fleet,
    inputs: Sequence[str | Path],
    options: DocumentOptions | None = None,
    /,
    **settings: Any,
) -> ResultStream:
    """Run the document pipeline over files, folders and globs on ``fleet``: one Result per page.

    ``settings`` are :class:`~docfleet.jobs.run.config.DocumentOptions` fields (``pipeline``,
    ``ocr``, ``dpi``, ``max_pixels``, ``password``); each ``Result.value`` is the page record that
    ``docfleet run`` writes to ``pages.jsonl`` (a document that cannot be opened yields
    one failed Result). Nothing is written to disk; use ``docfleet run`` for files and resume.

    >>> from docfleet import Fleet, map_documents
    >>> fleet = Fleet(devices="cpu", workers="thread", progress=False)
    >>> pages = list(map_documents(fleet, ["examples/report.pdf"], ocr="auto"))
    >>> [(p.item.page, p.value["text_source"]) for p in pages]
    [(1, 'text-layer'), (2, 'text-layer'), (3, 'text-layer')]
    >>> pages[0].value["text"].splitlines()[0]
    'Annual Report 2024'
    """
    opts = options if options is not None else DocumentOptions(**settings)
    return map_pages(fleet, page_tasks(inputs, opts), opts)


def map_pages(fleet: Fleet, tasks: Iterable[PageTask], options: DocumentOptions) -> ResultStream:
    """Run the document pipeline over page tasks on the fleet's devices."""
    from docfleet.jobs.run.pipeline import build_stages

    return fleet.map(build_stages(options), tasks)


def page_settings(config: DocumentOptions) -> dict[str, Any]:
    """The settings that shape a page's record (``PAGE_SETTINGS``), in one form each (the
    default dpi and ``--dpi 150`` fingerprint alike)."""
    found = {key: getattr(config, key) for key in PAGE_SETTINGS}
    if not isinstance(config.pipeline, str):  # groups: their stages shape the records
        found["pipeline"] = [g.model_dump(exclude_none=True) for g in config.pipeline]
    return found | {"dpi": float(found["dpi"]), "max_pixels": int(found["max_pixels"])}


def run_documents(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    config: RunConfig,
    *,
    on_start: Callable[[ResultStream], None] | None = None,
    wait: bool = False,
    retry_failed: bool = False,
    follow_links: bool = False,
    command: str = "",
) -> RunReport:
    """Process every page of ``inputs`` into ``out_dir``; pages done by an earlier run with the
    same settings are kept, pages of documents changed since are redone.

    Raises ``FileNotFoundError`` (an input), ``DeviceError``, ``OutputError`` (the folder is a
    file, or in use; ``wait`` waits for it), ``ResumeError`` (written with other settings) before
    any page runs, and ``OutputFull`` when the disk fills. ``on_start`` receives the result
    stream once work begins (to ``stop()`` it from a signal).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    check_output(out)
    options = config.document_options()
    tasks, skipped = collect_pages(
        inputs, password=options.password, exclude=out, follow_links=follow_links
    )
    fleet = Fleet(document_engine_options(config))
    devices = ["ray"] if config.engine == "ray" else [str(d) for d in fleet.devices()]
    with OutputLock(out, command=command, wait=wait):
        report = RunReport(output=out, total=len(tasks), skipped=skipped)
        settings = page_settings(config)
        try:
            _run(out, config, options, fleet, tasks, report, settings, devices, on_start,
                 retry_failed)  # fmt: skip
        finally:
            report.not_run = report.total - report.kept - report.ok - report.failed
            report.wall_seconds = time.perf_counter() - started
            report.ended = now_iso()
            with contextlib.suppress(OSError):  # a full disk: the error to tell is the run's
                write_run_json(out / "run.json", config, report, inputs=[str(i) for i in inputs],
                               command=command, page_settings=settings)  # fmt: skip
    return report


def _run(
    out: Path,
    config: RunConfig,
    options: DocumentOptions,
    fleet: Fleet,
    tasks: list[PageTask],
    report: RunReport,
    settings: dict[str, Any],
    devices: list[str],
    on_start: Callable[[ResultStream], None] | None,
    retry_failed: bool,
) -> None:
    pages = out / "pages.jsonl"
    fingerprint = settings_fingerprint(settings)
    stamps = _stamps(tasks)
    resumed = Resumed()
    if config.resume:
        resumed, report.changed_documents = resume_pages(
            pages,
            fingerprint=fingerprint,
            settings=settings,
            earlier_settings=earlier_page_settings(out / "run.json"),
            stamps=stamps,
            retry_failed=retry_failed,
            ids=_ids_by_document(tasks),
        )
    report.retried = resumed.retried
    furniture = Furniture(keep=config.keep_furniture)  # across each document's pages
    compose = then_merge_tables(furniture.compose)  # then tables continued across pages
    markdown = MarkdownSink(out, _common_folder(tasks), compose=compose)
    tables = Continuations()  # a table going on from the page before, in pages.jsonl
    for record in resumed.lines:
        furniture.observe(record)
        tables.mark(record)
        markdown.add(record, replay=True)
    todo = still_to_do(tasks, resumed.done)
    report.kept = len(tasks) - len(todo)
    if todo:
        report.devices = devices
    written = 0
    try:
        with (
            JsonlSink(pages, resume=config.resume) as sink,
            _chunk_sink(out, config, resumed) as write_chunks,
        ):
            if not todo:
                return
            stream = map_pages(fleet, todo, options)
            if on_start is not None:
                on_start(stream)
            for record in _records(stream):
                record.update(settings=fingerprint, source=stamps.get(record["document"]))
                furniture.mark(record)  # what earlier pages of its document repeat
                tables.mark(record)
                write_chunks(record)  # before the page's line: a kept line's chunks are stored
                sink.write(record)
                written += 1
                markdown.add(record)
                report.count(record)
            report.stats = stream.stats
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        size = pages.stat().st_size if pages.exists() else 0
        raise OutputFull(
            f"{exc.filename or pages}: no space left after writing {written} pages in this run "
            f"({size:,} bytes in {pages.name}; every line written is whole); free space and run "
            "the same command again to resume"
        ) from None


@contextmanager
def _chunk_sink(
    out: Path, config: RunConfig, resumed: Resumed
) -> Iterator[Callable[[dict[str, Any]], None]]:
    """What to do with embed's chunks: with ``--format parquet`` they go to
    ``OUT/chunks.parquet`` (and the page's line keeps their count); else they stay in the line."""
    if config.format != "parquet":
        yield lambda record: None
        return
    from docfleet.io.sinks.parquet import ChunkParquetSink

    keep = resumed.done if config.resume else None
    with ChunkParquetSink(out / "chunks.parquet", keep_ids=keep) as chunks:

        def write(record: dict[str, Any]) -> None:
            if isinstance(record.get("chunks"), list):
                chunks.write(record)
                record["chunks"] = len(record["chunks"])

        yield write


def _records(stream: ResultStream) -> Iterator[dict[str, Any]]:
    with stream:
        for result in stream:
            yield page_record(result)


def _stamps(tasks: Sequence[PageTask]) -> dict[str, list[int]]:
    stamps: dict[str, list[int]] = {}
    for task in tasks:
        if task.document not in stamps:
            try:
                stamps[task.document] = source_stamp(task.document)
            except OSError:
                continue
    return stamps


def _ids_by_document(tasks: Sequence[PageTask]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for task in tasks:
        ids.setdefault(task.document, set()).add(task.id)
    return ids


def _common_folder(tasks: Sequence[PageTask]) -> str | None:
    folders = {os.path.dirname(t.document) for t in tasks}
    try:
        return os.path.commonpath(folders) if folders else None
    except ValueError:  # relative and absolute paths mixed
        return None


def document_engine_options(config: RunConfig) -> EngineOptions:
    """The engine options of a document run on this machine: replicas and batch sizes for the
    devices chosen (see :func:`docfleet.jobs.run.pipeline.page_engine`)."""
    from docfleet.jobs.run.pipeline import page_engine

    return page_engine(config).options(config)

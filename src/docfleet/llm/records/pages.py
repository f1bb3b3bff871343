"""Image and PDF-page records for vision-language extraction, and their pixels in the worker.

Every file found becomes at least one record, as in ``docfleet run``: one per page of a PDF,
one per frame of an image, and one error record for a file that is not a document or cannot
be opened. Records carry paths and page numbers only; pixels are made where the model runs.

Prompt variables of a page record: ``{file}`` (the path inside the input folder), ``{page}``
and ``{pages}`` (1-based page number and page count); the record's ``page`` says what to show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from docfleet.io.inputs import find_inputs
from docfleet.llm.records.tabular import LINES_SUFFIXES, TABLE_SUFFIXES, Record, RecordError
from docfleet.page.types import PageTask

InputKind = Literal["records", "pages"]
PAGE_DPI = 144.0  # enough for small print; the model's processor resizes anyway
PAGE_MAX_PIXELS = 12_000_000  # bounds a worker's memory for a batch of large scans


def input_kind(path: str | Path) -> InputKind:
    """``records`` for CSV/TSV/JSONL files (or a folder holding any), else ``pages``.

    >>> input_kind("notes.csv"), input_kind("scan.pdf")
    ('records', 'pages')
    """
    root = Path(path)
    suffixes = TABLE_SUFFIXES + LINES_SUFFIXES
    if root.is_dir():
        try:
            files = find_inputs([root])
        except FileNotFoundError:
            return "records"  # let the reader name the problem
        return "records" if any(f.suffix.lower() in suffixes for f in files) else "pages"
    return "records" if root.suffix.lower() in suffixes else "pages"


def read_pages(
    path: str | Path, *, password: str | None = None, limit: int | None = None
) -> list[Record]:
    """One record per page of every PDF and image in a file or folder (sorted by path); the
    first ``limit`` only, opening no file past them.

    Ids are ``<path>#<page>`` with the path as given or found (``scans/a.pdf#2``), as
    ``docfleet run`` names pages. A file that cannot be read as a document gives one record
    (page 0) carrying the reason.

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     Image.new("RGB", (8, 8)).save(pathlib.Path(tmp, "scan.png"))
    ...     [(r.id == f"{tmp}/scan.png#1", r.fields["file"]) for r in read_pages(tmp)]
    [(True, 'scan.png')]
    """
    from docfleet.documents.sources import expand_documents
    from docfleet.page.types import page_id

    root = Path(path)
    try:
        files = find_inputs([root])
    except FileNotFoundError as exc:
        raise RecordError(str(exc)) from None
    if not files:
        raise RecordError(f"no files in the folder {root}")
    # workers (Ray actors on other nodes included) open absolute paths, whatever their cwd
    names = {
        str(f.absolute()): f.relative_to(root).as_posix() if root.is_dir() else f.name
        for f in files
    }
    records = []
    if limit is not None and limit < 1:
        return records
    found = {str(f.absolute()): str(f) for f in files}
    for task in expand_documents(names, password=password):
        name = names[task.document]
        record_id = page_id(found[task.document], task.page)  # as ``docfleet run`` names pages
        if task.error_type:
            records.append(Record(record_id, {}, task.document, task.error, task.error_type))
        else:
            fields = {"file": name, "page": str(task.page), "pages": str(task.pages)}
            records.append(Record(record_id, fields, task.document, page=task))
        if limit is not None and len(records) >= limit:
            break  # before the next file is opened
    return records


def page_image(
    task: PageTask,
    *,
    dpi: float = PAGE_DPI,
    max_pixels: int = PAGE_MAX_PIXELS,
    password: str | None = None,
) -> Any:
    """The page of a record (``record.page``) as an RGB PIL image; PDF pages at ``dpi``.

    Raises ``DocumentError`` when the page cannot be read now (also for a file since removed).
    """
    from PIL import Image

    from docfleet.documents.pdf.errors import DocumentError
    from docfleet.documents.sources import load_page

    try:
        rendered = load_page(task, dpi=dpi, max_pixels=max_pixels, password=password)
    except OSError as exc:  # moved or deleted since the records were read
        raise DocumentError("unreadable", f"{task.document}: {exc.strerror or exc}") from None
    return Image.fromarray(rendered.image)

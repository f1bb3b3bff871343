"""Input files to page tasks, and page tasks to rendered pages: where documents enter a run.

Every file yields at least one task, so every input gets a result: a file that is not a
document, or a document that cannot be opened, yields one task (page 0) carrying the error,
which ``load_page`` raises where the run records it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from docfleet.documents.images import image_page_count, read_image_page
from docfleet.documents.pdf.errors import DOCUMENT_ERROR_KINDS, DocumentError
from docfleet.documents.pdf.render import (
    DEFAULT_DPI,
    DEFAULT_MAX_PIXELS,
    pdf_page_count,
    read_pdf_page,
)
from docfleet.io.inputs import sniff
from docfleet.page.types import DocumentKind, PageTask, RenderedPage

__all__ = ["DocumentError", "expand_documents", "load_page"]


def inspect_document(
    path: Path, password: str | None = None
) -> tuple[DocumentKind | None, int, DocumentError | None]:
    """The kind and page count of a file, or the error that stops it being read."""
    try:
        size = path.stat().st_size
        kind = sniff(path) if size else None
    except OSError as exc:
        return None, 0, DocumentError("unreadable", f"{path}: {exc.strerror or exc}")
    if size == 0:
        return None, 0, DocumentError("empty", f"{path}: the file is empty (0 bytes)")
    if kind is None:
        return (
            None,
            0,
            DocumentError(
                "not-a-document",
                f"{path}: not a PDF, PNG, JPEG, TIFF, BMP, WebP or GIF (judged by its content, "
                "not its name)",
            ),
        )
    try:
        pages = pdf_page_count(path, password) if kind == "pdf" else image_page_count(path)
    except DocumentError as exc:
        return kind, 0, exc
    return kind, pages, None


def expand_documents(
    paths: Iterable[str | Path], *, password: str | None = None
) -> Iterator[PageTask]:
    """One ``PageTask`` per page (1-based) of each file; one error task (page 0) for a bad file.

    ``password`` opens encrypted PDFs (it is ignored by the others). Files are read lazily, one
    at a time, so a million inputs do not open a million documents.
    """
    for path in paths:
        kind, pages, error = inspect_document(Path(path), password)
        if error is not None:
            yield PageTask(str(path), kind, 0, 0, error_type=error.kind, error=error.message)
            continue
        for page in range(1, pages + 1):
            yield PageTask(str(path), kind, page, pages)


def load_page(
    task: PageTask,
    *,
    dpi: float = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    want_image: bool = True,
    want_text_layer: bool = False,
    password: str | None = None,
) -> RenderedPage:
    """Render a task's page (``want_image``) and read its text layer (``want_text_layer``).

    Raises ``DocumentError``: the task's own error for an error task, or why the page cannot be
    read now. Images have no text layer; their dpi is the one they state (else 72), scaled down
    with them. ``seconds["render"]`` records the time taken.
    """
    start = time.perf_counter()
    if task.error_type or task.page < 1:
        kind = task.error_type if task.error_type in DOCUMENT_ERROR_KINDS else "unreadable"
        raise DocumentError(kind, task.error or f"{task.document}: no page {task.page} to read")
    if task.kind is None:
        raise DocumentError("not-a-document", f"{task.document}: not a PDF or a supported image")
    try:
        if task.kind == "pdf":
            data = read_pdf_page(
                task.document,
                task.page,
                dpi=dpi,
                max_pixels=max_pixels,
                password=password,
                want_image=want_image,
                want_text=want_text_layer,
            )
            page = RenderedPage(
                task,
                data.width,
                data.height,
                data.dpi,
                data.downscaled,
                image=data.image,
                text_lines=data.text_lines or None,
                image_cover=data.image_cover,
                rulings=data.rulings,
            )
        else:
            decoded = read_image_page(task.document, task.page, max_pixels=max_pixels)
            height, width = decoded.image.shape[:2]
            page = RenderedPage(
                task,
                width,
                height,
                decoded.dpi,
                decoded.downscaled,
                image=decoded.image if want_image else None,
            )
    except IndexError as exc:  # the file changed since it was expanded
        raise DocumentError(
            "unreadable", f"{task.document}: {exc} (did the file change?)"
        ) from None
    page.seconds["render"] = time.perf_counter() - start
    return page


#: A file found in a folder with one of these names is a (broken) document when it does not
#: read as one; other files found there that are no document are skipped.
DOCUMENT_SUFFIXES = frozenset((".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp",
                               ".gif"))  # fmt: skip


def collect_pages(
    inputs: Sequence[str | Path],
    *,
    password: str | None = None,
    exclude: Path | None = None,
    follow_links: bool = False,
    skip_non_documents: bool = True,
) -> tuple[list[PageTask], list[dict[str, str]]]:
    """The page tasks of ``inputs``, and the files skipped with the reason why.

    A file found while walking a folder whose content is no document (a README, a manifest)
    is skipped, unless its name says it is one; a file named on the command line never is.
    """
    from docfleet.io.inputs import find_input_files

    skip = exclude.resolve() if exclude is not None else None
    files, unfollowed = find_input_files(inputs, follow_links=follow_links)
    skipped = [{"path": str(p), "reason": "a link to a folder (--follow-links follows it)"}
               for p in unfollowed]  # fmt: skip
    tasks: list[PageTask] = []
    for file in files:
        if skip is not None and file.path.resolve().is_relative_to(skip):
            continue
        found = list(expand_documents([file.path], password=password))
        kind = found[0].error_type
        if (
            skip_non_documents
            and not file.named
            and kind in ("not-a-document", "empty")
            and file.path.suffix.lower() not in DOCUMENT_SUFFIXES
        ):
            skipped.append({"path": str(file.path), "reason": kind})
            continue
        tasks.extend(found)
    return tasks, skipped

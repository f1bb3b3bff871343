"""A job's results as one zip: ``pages.jsonl`` and ``documents/`` (each document's Markdown
and the images it refers to), as ``docfleet run`` writes them to its output folder.

Written to a temporary file that spills to disk past a few MB, so a 2,000-page job's results are
never held in memory whole; the caller streams it and closes it.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

SPOOL_BYTES = 8 << 20  # smaller archives stay in memory
CHUNK = 1 << 20


def results_zip(job_dir: Path) -> IO[bytes]:
    """The zip of the job folder's results, rewound to its start (a file object to close).

    >>> import io
    >>> job = getfixture("tmp_path")
    >>> (job / "documents").mkdir(); _ = (job / "pages.jsonl").write_text("{}\\n")
    >>> _ = (job / "documents" / "a.pdf.md").write_text("# a.pdf\\n")
    >>> _ = (job / "documents" / "b.pdf.md.tmp").write_text("half written")
    >>> with results_zip(job) as fh:
    ...     sorted(zipfile.ZipFile(io.BytesIO(fh.read())).namelist())
    ['documents/a.pdf.md', 'pages.jsonl']
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned open)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        pages = job_dir / "pages.jsonl"
        if pages.is_file():
            archive.write(pages, "pages.jsonl")
        documents = job_dir / "documents"
        for path in sorted(documents.rglob("*")) if documents.is_dir() else []:
            if path.is_file() and not path.is_symlink() and not path.name.endswith(".tmp"):
                archive.write(path, path.relative_to(job_dir).as_posix())
    spool.seek(0)
    return spool


def chunks(fh: IO[bytes]) -> Iterator[bytes]:
    """The file's bytes in 1 MB pieces; the file is closed at the end."""
    with fh:
        while piece := fh.read(CHUNK):
            yield piece

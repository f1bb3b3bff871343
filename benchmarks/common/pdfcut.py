"""Cutting pages out of a PDF into a new one, byte for byte the same on every run."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pypdfium2 as pdfium

from .textfidelity import pdftotext_page

_CREATED = re.compile(rb"(/CreationDate\(D:)\d{14}[-+Z]\d\d'\d\d'")
_FILE_ID = re.compile(rb"/ID\[<[0-9A-F]{32}><[0-9A-F]{32}>\]")


def stable_bytes(pdf: bytes) -> bytes:
    """PDFium's output with a fixed creation date and a file ID from the content.

    Both keep their length, so the cross-reference offsets stay right, and cutting the same
    pages again gives the same bytes.
    """
    pdf = _CREATED.sub(rb"\g<1>20000101000000+00'00'", pdf, count=1)
    digest = hashlib.md5(_FILE_ID.sub(b"", pdf)).hexdigest().upper().encode()
    return _FILE_ID.sub(b"/ID[<" + digest + b"><" + digest + b">]", pdf, count=1)


def cut(src_path: Path, numbers: list[int], out: Path) -> bool:
    """Write ``numbers`` (1-based) of ``src_path`` to ``out``; True when pdftotext agrees."""
    src = pdfium.PdfDocument(src_path)
    dst = pdfium.PdfDocument.new()
    dst.import_pages(src, [n - 1 for n in numbers])
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    dst.save(buffer)
    out.write_bytes(stable_bytes(buffer.getvalue()))
    dst.close()
    src.close()
    return all(
        pdftotext_page(src_path, n) == pdftotext_page(out, i) for i, n in enumerate(numbers, 1)
    )

"""Resuming a document run: which pages an earlier run into the same folder already wrote.

Every ``pages.jsonl`` line carries ``settings`` (a fingerprint of what shapes a page's record:
pipeline, OCR mode, resolution, pixel cap) and ``source`` (the document's size and modification
time when it was read). A resumed run keeps the lines of its own settings whose document is
unchanged, redoes pages of documents changed since (and, with ``retry_failed``, pages that
failed), and refuses lines written with other settings, naming what differs. The rules every
job's output shares are :mod:`docfleet.jobs.common.resume`'s; the source stamps are the run's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docfleet.io.fingerprint import settings_differ
from docfleet.jobs.common.resume import Resumed, resume_lines


def source_stamp(path: str | Path) -> list[int]:
    """The document's size and modification time (ns): a change between runs shows in them."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def resume_pages(
    pages: Path,
    *,
    fingerprint: str,
    settings: Mapping[str, Any],
    earlier_settings: Mapping[str, Any] | None,
    stamps: Mapping[str, list[int]],
    retry_failed: bool,
    ids: Mapping[str, set[str]],
) -> tuple[Resumed, list[str]]:
    """Read ``pages`` (``pages.jsonl``); drop the lines to redo (rewriting the file once). Returns
    the lines kept, and the documents redone because they changed since.

    ``stamps`` maps each document of this run to its ``source_stamp``, ``ids`` to the ids of
    its pages now (a document that failed to open as a whole has one id, its pages others);
    ``earlier_settings`` are the page settings the earlier run recorded in its ``run.json``,
    to name what differs.
    """
    changed: list[str] = []

    def redo(record: dict[str, Any]) -> bool:
        document = record.get("document")
        if isinstance(document, str) and document in ids and record.get("id") not in ids[document]:
            return True  # the document now opens (or now fails as a whole): its old lines go
        stamp = stamps.get(document) if isinstance(document, str) else None
        if stamp is not None and record.get("source") not in (None, stamp):
            if document not in changed:
                changed.append(document)
            return True
        return False

    def mismatch(record: dict[str, Any]) -> str:
        return _mismatch(pages, record, settings, earlier_settings)

    kept = resume_lines(pages, fingerprint, mismatch=mismatch, redo=redo, retry_failed=retry_failed)
    return kept, changed


def earlier_page_settings(run_json: Path) -> dict[str, Any] | None:
    """The page settings an earlier run recorded (None when it left no readable run.json)."""
    try:
        data = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = data.get("page_settings") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else None


def _mismatch(
    pages: Path,
    record: Mapping[str, Any],
    settings: Mapping[str, Any],
    earlier: Mapping[str, Any] | None,
) -> str:
    what = settings_differ(earlier, settings) if earlier else ""
    if not what:
        what = "settings this run does not match" + (
            "" if record.get("settings") else " (lines without a settings fingerprint)"
        )
    return (
        f"{pages} holds pages written with other settings ({what}); "
        "pass --no-resume to start over in it, or choose another -o"
    )

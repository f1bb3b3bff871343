"""Resuming a document run: which pages an earlier run into the same folder already wrote.

Every ``pages.jsonl`` line carries ``settings`` (a fingerprint of what shapes a page's record:
pipeline, OCR mode, resolution, pixel cap) and ``source`` (the document's size and modification
time when it was read). A resumed run keeps the lines of its own settings whose document is
unchanged, redoes pages of documents changed since (and, with ``retry_failed``, pages that
failed), and refuses lines written with other settings, naming what differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docfleet.io.fingerprint import settings_differ
from docfleet.io.sinks.jsonl import read_records, rewrite_records


class ResumeError(ValueError):
    """The output folder holds pages that this run's settings would not have written."""


@dataclass
class Resumed:
    """What an earlier run left: the ids to keep, and how many lines were dropped and why."""

    done: set[str] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)
    changed_documents: list[str] = field(default_factory=list)
    retried: int = 0


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
) -> Resumed:
    """Read ``pages`` (``pages.jsonl``); drop the lines to redo (rewriting the file once).

    ``stamps`` maps each document of this run to its ``source_stamp``, ``ids`` to the ids of
    its pages now (a document that failed to open as a whole has one id, its pages others);
    ``earlier_settings`` are the page settings the earlier run recorded in its ``run.json``,
    to name what differs.
    """
    out = Resumed()
    kept: list[dict[str, Any]] = []
    dropped = 0
    for record in read_records(pages):
        if record.get("settings") != fingerprint:
            raise ResumeError(_mismatch(pages, record, settings, earlier_settings))
        document = record.get("document")
        if isinstance(document, str) and document in ids and record.get("id") not in ids[document]:
            dropped += 1  # the document now opens (or now fails as a whole): its old lines go
            continue
        stamp = stamps.get(document) if isinstance(document, str) else None
        if stamp is not None and record.get("source") not in (None, stamp):
            if document not in out.changed_documents:
                out.changed_documents.append(document)
            dropped += 1
            continue
        if retry_failed and record.get("status") != "ok":
            out.retried += 1
            dropped += 1
            continue
        kept.append(record)
    if dropped:
        rewrite_records(pages, kept)
    out.records = kept
    out.done = {r["id"] for r in kept}
    return out


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

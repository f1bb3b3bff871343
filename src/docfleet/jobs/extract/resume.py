"""Resuming an extraction: which records an earlier run of the same settings already wrote.

Every output line carries ``settings``, a short fingerprint of what shapes the answers (model,
prompts, schema, limits). A resumed run skips the records whose lines are there and appends
the rest; lines written with other settings stop it, so stale answers are never mixed in.
Retrying failed records drops their error lines first, and puts the file back in input order
once every record has its line again. The rules every job's output shares are
:mod:`docfleet.jobs.common.resume`'s; the settings file beside the output is the extraction's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docfleet.jobs.common.resume import Resumed, resume_lines
from docfleet.jobs.extract.changes import settings_changes

__all__ = ["resume_output", "save_settings", "settings_file"]


def settings_file(path: str | Path) -> Path:
    """Where an output file's settings are kept, to name what differs on a mismatch."""
    path = Path(path)
    return path.with_name(f".{path.name}.settings.json")


def resume_output(
    path: str | Path, fingerprint: str, settings: Mapping[str, Any], *, retry_failed: bool
) -> Resumed:
    """The complete lines of an earlier run into ``path`` (none if it does not exist), less its
    error lines with ``retry_failed``.

    Raises ``ResumeError`` when a line was written with other settings, naming each setting
    that differs and both values (for a prompt, where the two part) when the earlier run left
    its ``settings_file``.
    """

    def mismatch(line: dict[str, Any]) -> str:
        what = ""
        try:
            earlier = json.loads(settings_file(path).read_text(encoding="utf-8"))
            what = settings_changes(earlier, settings) if isinstance(earlier, dict) else ""
        except (OSError, ValueError):
            what = ""
        return (
            f"{path} was written with other settings ("
            + (what or f"model, prompts, schema or limits; line {line.get('id')!r}")
            + "); pass --no-resume to overwrite it, or choose another -o"
        )

    return resume_lines(path, fingerprint, mismatch=mismatch, retry_failed=retry_failed)


def save_settings(path: str | Path, settings: Mapping[str, Any]) -> None:
    """Keep the settings of the run writing ``path`` beside it (see ``settings_file``)."""
    target = settings_file(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(settings, ensure_ascii=False, indent=1, default=str), "utf-8")
    tmp.replace(target)

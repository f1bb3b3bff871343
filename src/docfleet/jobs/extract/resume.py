"""Resuming an extraction: which records an earlier run of the same settings already wrote.

Every output line carries ``settings``, a short fingerprint of what shapes the answers (model,
prompts, schema, limits). A resumed run skips the records whose lines are there and appends
the rest; lines written with other settings stop it, so stale answers are never mixed in.
Retrying failed records drops their error lines first, and puts the file back in input order
once every record has its line again.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from docfleet.io.fingerprint import settings_differ, settings_fingerprint
from docfleet.io.sinks.jsonl import read_records

T = TypeVar("T")
__all__ = [
    "ResumeError", "in_input_order", "save_settings", "settings_fingerprint", "still_to_do",
    "written_lines",
]  # fmt: skip


class ResumeError(ValueError):
    """The output file holds lines that this run's settings would not have written."""


def settings_file(path: str | Path) -> Path:
    """Where an output file's settings are kept, to name what differs on a mismatch."""
    path = Path(path)
    return path.with_name(f".{path.name}.settings.json")


def written_lines(
    path: str | Path, fingerprint: str, settings: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The complete lines of an earlier run into ``path`` (none if it does not exist).

    Raises ``ResumeError`` when a line was written with other settings, naming each setting
    that differs and both values when the earlier run left its ``settings_file``.
    """
    lines = list(read_records(path))
    for line in lines:
        if line.get("settings") != fingerprint:
            what = ""
            if settings is not None:
                try:
                    earlier = json.loads(settings_file(path).read_text(encoding="utf-8"))
                    what = settings_differ(earlier, settings) if isinstance(earlier, dict) else ""
                except (OSError, ValueError):
                    what = ""
            raise ResumeError(
                f"{path} was written with other settings ("
                + (what or f"model, prompts, schema or limits; line {line.get('id')!r}")
                + "); pass --no-resume to overwrite it, or choose another -o"
            )
    return lines


def save_settings(path: str | Path, settings: Mapping[str, Any]) -> None:
    """Keep the settings of the run writing ``path`` beside it (see ``settings_file``)."""
    target = settings_file(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(settings, ensure_ascii=False, indent=1, default=str), "utf-8")
    tmp.replace(target)


def still_to_do(records: Iterable[T], done_ids: Iterable[str], key: str = "id") -> list[T]:
    """The records not yet written, in order; an id written twice covers two records.

    >>> from types import SimpleNamespace as R
    >>> [r.id for r in still_to_do([R(id="a"), R(id="a"), R(id="b")], ["a"])]
    ['a', 'b']
    """
    left = Counter(done_ids)
    todo = []
    for record in records:
        record_id = getattr(record, key)
        if left[record_id] > 0:
            left[record_id] -= 1
            continue
        todo.append(record)
    return todo


def in_input_order(lines: Iterable[dict[str, Any]], ids: Iterable[str]) -> list[dict[str, Any]]:
    """``lines`` sorted as their records come in the input (the k-th line of an id is its k-th
    record); lines of ids no longer in the input go last, in their order.

    >>> lines = [{"id": "b"}, {"id": "a", "n": 1}, {"id": "a", "n": 2}, {"id": "z"}]
    >>> [(x["id"], x.get("n")) for x in in_input_order(lines, ["a", "b", "a"])]
    [('a', 1), ('b', None), ('a', 2), ('z', None)]
    """
    positions: dict[str, deque[int]] = {}
    count = 0
    for count, record_id in enumerate(ids, start=1):
        positions.setdefault(record_id, deque()).append(count)
    keyed = []
    for line in lines:
        queue = positions.get(line["id"])
        keyed.append((queue.popleft() if queue else count + 1 + len(keyed), line))
    return [line for _, line in sorted(keyed, key=lambda pair: pair[0])]

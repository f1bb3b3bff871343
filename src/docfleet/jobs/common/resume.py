"""Resuming a job into the JSONL output an earlier run of it left: what is done, what to redo.

Every output line carries ``id``, ``status`` and ``settings`` (a fingerprint of what shapes the
line: :func:`docfleet.io.fingerprint.settings_fingerprint`). A resumed run keeps the lines of its
own settings and does the other items. A line of other settings stops it (``ResumeError``,
naming what differs), or, for a job that redoes such items, is dropped; so are lines the job
redoes by a rule of its own, and failed lines when it retries them. Dropping rewrites the file
once, in one step, so an interrupted retry still holds each item at most once.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from docfleet.io.sinks.jsonl import read_records, rewrite_records

T = TypeVar("T")
Line = dict[str, Any]

__all__ = ["ResumeError", "Resumed", "in_input_order", "resume_lines", "still_to_do"]


class ResumeError(ValueError):
    """The output holds lines that this run's settings would not have written."""


@dataclass
class Resumed:
    """What an earlier run left: the lines kept (in file order), and how many were dropped."""

    lines: list[Line] = field(default_factory=list)
    retried: int = 0  # failed lines dropped to be run again
    dropped: int = 0  # every line dropped, for any reason

    @property
    def done(self) -> set[str]:
        """The ids of the lines kept."""
        return {line["id"] for line in self.lines}


def resume_lines(
    path: str | Path,
    fingerprint: str,
    *,
    mismatch: Callable[[Line], str] | None = None,
    redo: Callable[[Line], bool] | None = None,
    retry_failed: bool = False,
) -> Resumed:
    """The complete lines an earlier run wrote into ``path`` (none if it does not exist), less
    those to redo; ``path`` is rewritten once when any go.

    A line of other settings raises ``ResumeError(mismatch(line))``, or is dropped when there is
    no ``mismatch``. Of the others, a line goes when the job's ``redo(line)`` says so, or, with
    ``retry_failed``, when its status is not ``ok``.

    >>> import json, tempfile
    >>> out = Path(tempfile.mkdtemp()) / "out.jsonl"
    >>> _ = out.write_text("".join(json.dumps(line) + "\\n" for line in [
    ...     {"id": "a", "status": "ok", "settings": "s1"},
    ...     {"id": "b", "status": "error", "settings": "s1"},
    ...     {"id": "c", "status": "ok", "settings": "s0"}]))
    >>> kept = resume_lines(out, "s1", retry_failed=True)
    >>> sorted(kept.done), kept.retried, kept.dropped, len(out.read_text().splitlines())
    (['a'], 1, 2, 1)
    >>> resume_lines(out, "s2", mismatch=lambda line: f"{line['id']}: other settings")
    Traceback (most recent call last):
    docfleet.jobs.common.resume.ResumeError: a: other settings
    """
    out = Resumed()
    for line in read_records(path):
        if line.get("settings") != fingerprint:
            if mismatch is not None:
                raise ResumeError(mismatch(line))
        elif redo is not None and redo(line):
            pass
        elif retry_failed and line.get("status") != "ok":
            out.retried += 1
        else:
            out.lines.append(line)
            continue
        out.dropped += 1
    if out.dropped:
        rewrite_records(path, out.lines)
    return out


def still_to_do(items: Iterable[T], done_ids: Iterable[str], key: str = "id") -> list[T]:
    """The items not yet written, in order; an id written twice covers two items.

    >>> from types import SimpleNamespace as R
    >>> [r.id for r in still_to_do([R(id="a"), R(id="a"), R(id="b")], ["a"])]
    ['a', 'b']
    """
    left = Counter(done_ids)
    todo = []
    for item in items:
        item_id = getattr(item, key)
        if left[item_id] > 0:
            left[item_id] -= 1
            continue
        todo.append(item)
    return todo


def in_input_order(lines: Iterable[Line], ids: Iterable[str]) -> list[Line]:
    """``lines`` sorted as their items come in the input (the k-th line of an id is its k-th
    item); lines of ids no longer in the input go last, in their order.

    >>> lines = [{"id": "b"}, {"id": "a", "n": 1}, {"id": "a", "n": 2}, {"id": "z"}]
    >>> [(x["id"], x.get("n")) for x in in_input_order(lines, ["a", "b", "a"])]
    [('a', 1), ('b', None), ('a', 2), ('z', None)]
    """
    positions: dict[str, deque[int]] = {}
    count = 0
    for count, item_id in enumerate(ids, start=1):
        positions.setdefault(item_id, deque()).append(count)
    keyed = []
    for line in lines:
        queue = positions.get(line["id"])
        keyed.append((queue.popleft() if queue else count + 1 + len(keyed), line))
    return [line for _, line in sorted(keyed, key=lambda pair: pair[0])]

"""What changed between the settings an output was written with and a run's: short values as
``max_new_tokens 4 -> 5``; prompts, the system message and the schema, long texts that often
share a long start, as the place where they first differ with the text around it in each."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from docfleet.io.fingerprint import settings_differ

SHORT = 40  # values this long at most are shown whole
BEFORE, AFTER = 24, 36  # characters of context shown before and from the first difference


def settings_changes(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """Each setting that differs, with both values or where the two texts part.

    >>> settings_changes({"max_new_tokens": 4}, {"max_new_tokens": 5})
    'max_new_tokens 4 -> 5'
    >>> intro = "Read the note a nurse wrote on the night shift. "
    >>> where, texts = settings_changes({"turns": [intro + "Dx?"]},
    ...                                 {"turns": [intro + "DDx?"]}).split(": ", 1)
    >>> where
    'turn 1 differs at line 1, column 50'
    >>> print(texts)
    "…te on the night shift. Dx?" -> "…te on the night shift. DDx?"
    """
    changed = []
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        if key == "turns" and isinstance(old, list) and isinstance(new, list):
            changed.append(_turns(old, new))
            continue
        a, b = _text(old), _text(new)
        if len(a) <= SHORT and len(b) <= SHORT:
            changed.append(settings_differ({key: old}, {key: new}))
        else:
            changed.append(f"{key} {where_differs(a, b)}")
    return "; ".join(changed)


def where_differs(a: str, b: str) -> str:
    """``differs at line L, column C: "…a…" -> "…b…"``: the first character where ``a`` and
    ``b`` part (1-based), and each text around it, newlines shown as ``\\n``.

    >>> where_differs("total: {x}\\nand tax", "total: {x}\\nand VAT")
    'differs at line 2, column 5: "total: {x}\\\\nand tax" -> "total: {x}\\\\nand VAT"'
    """
    at = 0
    while at < min(len(a), len(b)) and a[at] == b[at]:
        at += 1
    line = a.count("\n", 0, at) + 1
    column = at - (a.rfind("\n", 0, at) + 1) + 1
    return f"differs at line {line}, column {column}: {_around(a, at)} -> {_around(b, at)}"


def _turns(old: list[Any], new: list[Any]) -> str:
    parts = [] if len(old) == len(new) else [f"turns {len(old)} -> {len(new)}"]
    for i, (a, b) in enumerate(zip(old, new, strict=False), 1):
        if a != b:
            parts.append(f"turn {i} {where_differs(_text(a), _text(b))}")
            break  # the first is enough to find the others
    return "; ".join(parts)


def _around(text: str, at: int) -> str:
    start, end = max(0, at - BEFORE), at + AFTER
    shown = text[start:end].replace("\n", "\\n").replace("\t", "\\t")
    return f'"{"…" if start else ""}{shown}{"…" if end < len(text) else ""}"'


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

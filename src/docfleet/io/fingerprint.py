"""Settings fingerprints: every output line says which settings wrote it, so a resumed run
never mixes lines of other settings into its output."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    """A short, stable hash of the settings that shape the output.

    >>> settings_fingerprint({"b": 1, "a": [2]}) == settings_fingerprint({"a": [2], "b": 1})
    True
    """
    text = json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def settings_differ(before: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """The settings that changed, with both values: ``dpi 150 -> 300, ocr auto -> always``.

    >>> settings_differ({"dpi": 150, "ocr": "auto"}, {"dpi": 300, "ocr": "auto"})
    'dpi 150 -> 300'
    """
    changed = [
        f"{key} {_short(before.get(key))} -> {_short(now.get(key))}"
        for key in sorted(set(before) | set(now))
        if before.get(key) != now.get(key)
    ]
    return ", ".join(changed)


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) and " " not in value else str(value)
    if isinstance(value, (str, list, dict)) and (" " in text or len(text) > limit):
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"

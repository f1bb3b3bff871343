"""Where the benchmark corpora live, and their files: truth per page, JSON Lines, page keys.

Each corpus is built by its own script (``corpus.py``, ``real_corpus.py``,
``scanned_corpus.py``), which also loads it; what they share is here.

>>> spread(list(range(10)), 3)
[0, 3, 6]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

CACHE = Path.home() / ".cache" / "docfleet-bench"
REAL_CORPUS = CACHE / "real"  # real_corpus.py's pages cut from Debian's PDFs
SCANNED_CORPUS = CACHE / "scanned"  # scanned_corpus.py's pages printed and scanned again
DEBIAN_CACHE = CACHE / "debian"  # the downloaded and unpacked Debian packages

Key = tuple[str, int]  # (document file name, 1-based page)
Texts = dict[Key, str]
T = TypeVar("T")


def load_truth(path: Path) -> Texts:
    """``{(document, page): text}`` from a truth.jsonl file."""
    truth = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            truth[row["document"], int(row["page"])] = row["text"]
    return truth


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line, UTF-8 kept as is."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def spread(items: list[T], n: int) -> list[T]:
    """``n`` items evenly spaced over ``items`` (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def page_id(key: Key) -> str:
    """``document#page``, as the figures name a page."""
    return f"{key[0]}#{key[1]}"

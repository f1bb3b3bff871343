"""Upload names as file names: safe (they never become paths) and unique within a job."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 200  # characters and UTF-8 bytes: with ".md.tmp" added it still fits a 255-byte name


def safe_name(raw: str) -> str:
    """An upload's name as a file name that stays in its folder: the last path part, without
    control characters or "..", at most ``MAX_NAME`` characters (and bytes), never empty.

    >>> safe_name("../../etc/passwd"), safe_name("a/b\\\\c.pdf"), safe_name(".."), safe_name("")
    ('passwd', 'c.pdf', 'upload', 'upload')
    """
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if not unicodedata.category(c).startswith("C"))
    name = re.sub(r"^[\s.]+|[\s.]+$", "", re.sub(r"\.{2,}", ".", name))
    return _fit(name or "upload")


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``... before its suffix; unique ignoring case, as some disks do.
    The name returned is added to ``taken`` (casefolded).

    >>> taken = set()
    >>> unique_name("a.pdf", taken), unique_name("A.pdf", taken)
    ('a.pdf', 'A (2).pdf')
    """
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = _fit(name, f" ({n})")
    taken.add(candidate.casefold())
    return candidate


def _fit(name: str, tag: str = "") -> str:
    """``name`` with ``tag`` before its suffix, its stem cut to keep within ``MAX_NAME``."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix) > 16:
        stem, suffix = name, ""
    tail = tag + (f".{suffix}" if suffix else "")
    stem = stem[: MAX_NAME - len(tail)]
    while len((stem + tail).encode("utf-8")) > MAX_NAME:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "upload") + tail

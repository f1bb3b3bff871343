"""Find the input files of a run (files, folders, globs) and tell documents apart by content."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DocumentKind = Literal["pdf", "png", "jpeg", "tiff", "bmp", "webp", "gif"]


SNIFF_BYTES = 1024  # a PDF header may follow up to 1 KB of junk, as readers allow
_GLOB_CHARS = frozenset("*?[")
_BMP_HEADER_SIZES = frozenset((12, 16, 40, 52, 56, 64, 108, 124))  # DIB header variants


@dataclass(frozen=True)
class InputFile:
    """A file to read, and whether the user named it (a file found in a folder was not)."""

    path: Path
    named: bool


def find_inputs(paths: Sequence[str | Path], *, follow_links: bool = False) -> list[Path]:
    """Expand files, folders (recursively, hidden entries skipped) and globs into files.

    Order is stable: arguments in the order given, each folder's contents sorted by name. A file
    reached twice (``docs/ docs/a.pdf``) is kept once. A path that does not exist, or a pattern
    that matches nothing, raises ``FileNotFoundError``. Links to folders inside a folder are
    followed only with ``follow_links`` (and no folder is walked twice).

    >>> find_inputs([])
    []
    """
    return [f.path for f in find_input_files(paths, follow_links=follow_links)[0]]


def find_input_files(
    paths: Sequence[str | Path], *, follow_links: bool = False
) -> tuple[list[InputFile], list[Path]]:
    """The files ``find_inputs`` finds, each marked as named or found; and the links to
    folders that were not followed."""
    found: list[InputFile] = []
    seen: set[str] = set()
    walk = _Walk(follow_links)
    for arg in paths:
        for path, named in _expand(arg, walk):
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(InputFile(path, named))
    return found, walk.unfollowed


class _Walk:
    def __init__(self, follow_links: bool) -> None:
        self.follow_links = follow_links
        self.walked: set[str] = set()
        self.unfollowed: list[Path] = []

    def __call__(self, folder: Path) -> Iterator[Path]:
        real = os.path.realpath(folder)
        if real in self.walked:  # reached again through a link, or a link loop
            return
        self.walked.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return  # unreadable folder: nothing to find in it
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = folder / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from self(child)
                elif entry.is_symlink() and entry.is_dir():
                    if self.follow_links:
                        yield from self(child)
                    else:
                        self.unfollowed.append(child)
                elif entry.is_file():
                    yield child
            except OSError:
                continue


def _expand(arg: str | Path, walk: _Walk) -> Iterator[tuple[Path, bool]]:
    path = Path(os.path.expanduser(arg))
    if path.is_dir():
        yield from ((p, False) for p in walk(path))
    elif path.is_file():
        yield path, True
    elif path.exists():
        raise FileNotFoundError(f"input {str(arg)!r} is neither a regular file nor a folder")
    elif _GLOB_CHARS & set(str(arg)):
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches:
            raise FileNotFoundError(f"no files match the input pattern {str(arg)!r}")
        for match in matches:
            item = Path(match)
            if item.is_dir():
                yield from ((p, False) for p in walk(item))
            elif item.is_file():
                yield item, True
    else:
        raise FileNotFoundError(f"input {str(arg)!r} does not exist (looked for {path.absolute()})")


def sniff(path: str | Path) -> DocumentKind | None:
    """The document kind from the file's first bytes (never its name); None if not one we read.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(suffix=".txt") as f:
    ...     _ = f.write(b"%PDF-1.7 ..."); f.flush()
    ...     sniff(f.name)
    'pdf'
    """
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return sniff_bytes(head)


def sniff_bytes(head: bytes) -> DocumentKind | None:
    """The document kind of a file that starts with ``head`` (its first 1 KB is enough)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # TIFF, BigTIFF
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return "pdf"
    return None

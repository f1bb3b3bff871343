"""Lines of a text file decoded strictly, stopping cleanly at the first undecodable byte.

Record readers use it so that a file in the wrong encoding still yields the rows before the
bad line, and one error that names the line and an encoding worth trying.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

_CHUNK = 1 << 16


class DecodedLines:
    """Text lines of a file (BOM dropped), up to the line holding the first undecodable byte.

    ``count`` is the number of lines read so far, ``rows`` the rows the reader made of them,
    ``bad_reason`` says why decoding stopped early (None: it did not), ``done`` that the last
    line was read, and ``taken`` (when a list) collects the lines read since it was cleared.
    """

    def __init__(self, raw: BinaryIO, encoding: str, *, bad: tuple[int, str] | None) -> None:
        stream = io.BufferedReader(_Prefix(raw, bad[0])) if bad else raw
        self._text = io.TextIOWrapper(stream, encoding=encoding, newline="")  # type: ignore[arg-type]
        self.bad_reason = bad[1] if bad else None
        self.count = 0
        self.rows = 0
        self.done = False
        self.taken: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            for line in self._text:
                if self.bad_reason and not line.endswith(("\n", "\r")):
                    break  # the start of the bad line
                if self.count == 0:
                    line = line.removeprefix("\ufeff")
                self.count += 1
                if self.taken is not None:
                    self.taken.append(line)
                yield line
        except UnicodeDecodeError as exc:  # the file changed since it was checked
            self.bad_reason = self.bad_reason or exc.reason
        self.done = True


class _Prefix(io.RawIOBase):
    """The first ``limit`` bytes of a binary file."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(min(len(buffer), self._left))
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)


def first_bad_byte(file: Path, encoding: str) -> tuple[int, str] | None:
    """Offset and reason of the first byte sequence not valid in ``encoding``, if any."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done = 0
    with open(file, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                start = exc.start if exc.object == pending + chunk else len(pending)
                return done - len(pending) + start, exc.reason
            if not chunk:
                return None
            done += len(chunk)


def suggest_encoding(file: Path, encoding: str) -> str:
    """An encoding worth trying for a file that is not valid in ``encoding``."""
    with open(file, "rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    return "latin-1" if codecs.lookup(encoding).name == "utf-8" else "utf-8 or latin-1"

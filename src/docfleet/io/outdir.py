"""The output folder's contract: one writer at a time, and checked before anything is written.

A run holds an exclusive lock on ``OUT/.lock`` (``flock``) for as long as it writes. The kernel
drops the lock when the process ends, however it ends, so a killed run never leaves a stale
lock behind; the file itself only says who holds it (pid, start time, command).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

LOCK_NAME = ".lock"
WAIT_POLL_SECONDS = 0.5


class OutputError(RuntimeError):
    """The output folder cannot be used as asked (a file, in use, not writable)."""


def check_output(out: Path) -> None:
    """Raise ``OutputError`` when ``out`` cannot be an output folder; creates nothing."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"-o {out}: is a file, not a folder; give a folder (created if missing)")
    parent = next((p for p in [out, *out.parents] if p.exists()), None)
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"-o {out}: {parent} is not writable")


def check_output_file(out: Path) -> None:
    """Raise ``OutputError`` when ``out`` cannot be an output file; creates nothing."""
    if out.is_dir():
        raise OutputError(f"-o {out}: is a folder; give a file name (a .jsonl file)")
    check_output(out.parent)


class OutputLock:
    """Exclusive use of an output: ``with OutputLock(out, command=...):`` for a folder (the
    lock is ``OUT/.lock``), or ``OutputLock(out_file, lock=out_file.parent / ".x.lock")``.

    Raises ``OutputError`` naming the holder when another run has it, unless ``wait``, which
    waits for it (saying so once on stderr).
    """

    def __init__(
        self, output: Path, *, command: str = "", wait: bool = False, lock: Path | None = None
    ) -> None:
        self.output = Path(output)
        self.lock = lock if lock is not None else self.output / LOCK_NAME
        self.command = command
        self.wait = wait
        self._fh: IO[str] | None = None

    @classmethod
    def for_file(cls, path: Path, *, command: str = "", wait: bool = False) -> OutputLock:
        """The lock of an output file: a hidden file beside it."""
        return cls(path, command=command, wait=wait, lock=path.with_name(f".{path.name}.lock"))

    def __enter__(self) -> OutputLock:
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.lock, "a+", encoding="utf-8")
        said = False
        while not _try_lock(fh):
            holder = _holder(fh)
            if not self.wait:
                fh.close()
                raise OutputError(f"{self.output} is in use by {holder}; wait for it to finish, "
                                  "or pass --wait to start when it does")  # fmt: skip
            if not said:
                print(f"waiting: {self.output} is in use by {holder}", file=sys.stderr)
                said = True
            time.sleep(WAIT_POLL_SECONDS)
        fh.seek(0)
        fh.truncate()
        since = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        fh.write(json.dumps({"pid": os.getpid(), "since": since, "command": self.command}))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the lock
            self._fh = None


def _try_lock(fh: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: lock the file's first byte
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _holder(fh: IO[str]) -> str:
    fh.seek(0)
    try:
        info: dict[str, Any] = json.loads(fh.read() or "{}")
    except ValueError:
        info = {}
    if not info.get("pid"):
        return "another run"
    return f"pid {info['pid']} since {info.get('since', '?')} ({info.get('command') or 'docfleet'})"

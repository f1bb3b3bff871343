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


class OutputLock:
    """Exclusive use of an output folder: ``with OutputLock(out, command=...):``.

    Raises ``OutputError`` naming the holder when another run has the folder, unless ``wait``,
    which waits for it (saying so once on stderr).
    """

    def __init__(self, folder: Path, *, command: str = "", wait: bool = False) -> None:
        self.folder = Path(folder)
        self.command = command
        self.wait = wait
        self._fh: IO[str] | None = None

    def __enter__(self) -> OutputLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        fh = open(self.folder / LOCK_NAME, "a+", encoding="utf-8")
        said = False
        while not _try_lock(fh):
            holder = _holder(fh)
            if not self.wait:
                fh.close()
                raise OutputError(f"{self.folder} is in use by {holder}; wait for it to finish, "
                                  "or pass --wait to start when it does")  # fmt: skip
            if not said:
                print(f"waiting: {self.folder} is in use by {holder}", file=sys.stderr)
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

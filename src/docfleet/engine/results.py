"""Per-item outcomes: every input item ends as exactly one :class:`Result`."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorInfo:
    """Why an item failed: the exception type, its message, the stage it came from.

    ``type`` is the exception class name, or one of the engine's own kinds: ``WorkerDied`` (the
    worker process died on this item every time it was tried), ``Timeout`` (the item ran past its
    time limit) and ``OutOfMemory`` (it did not fit even alone in a batch).
    """

    type: str
    message: str
    stage: str = ""
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException, stage: str = "") -> ErrorInfo:
        """Capture an exception as plain, picklable data (the last few frames of its traceback)."""
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-4)
        kind = getattr(exc, "error_type", None)  # exceptions may name their kind of failure
        name = kind if isinstance(kind, str) and kind else type(exc).__name__
        return cls(name, str(exc) or repr(exc), stage, "".join(frames))

    def __str__(self) -> str:
        where = f" in stage {self.stage!r}" if self.stage else ""
        return f"{self.type}{where}: {self.message}"


@dataclass(frozen=True)
class Result:
    """The outcome of one input item.

    ``index`` is the item's position in the input; ``value`` is the stage output when ``ok``,
    else ``error`` says why it failed. ``device`` is the device of the replica that produced it,
    ``seconds`` its share of that replica's compute time, ``attempts`` how many times it ran.
    """

    index: int
    item: Any
    ok: bool
    value: Any = None
    error: ErrorInfo | None = None
    device: str = ""
    seconds: float = 0.0
    attempts: int = 1

    def to_dict(self, *, with_item: bool = False) -> dict[str, Any]:
        """A JSON-friendly dict of this result (the item itself only when asked)."""
        data: dict[str, Any] = {
            "index": self.index,
            "ok": self.ok,
            "value": self.value,
            "error": asdict(self.error) if self.error else None,
            "device": self.device,
            "seconds": self.seconds,
            "attempts": self.attempts,
        }
        if with_item:
            data["item"] = self.item
        return data

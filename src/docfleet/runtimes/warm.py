"""Models that load in the background, so pages that need no model never wait for one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WarmModel(Generic[T]):
    """Builds a model on a helper thread from ``load()``; :meth:`get` waits for it.

    A run of born-digital PDFs, whose pages take their text from the text layer, then starts
    at once instead of waiting for layout and OCR sessions it will never use. A build that
    fails raises its error from :meth:`get`, naming the model.
    """

    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self._name = name
        self._model: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, args=(build,), daemon=True,
                                        name=f"docfleet-load-{name}")  # fmt: skip
        self._thread.start()

    def _build(self, build: Callable[[], T]) -> None:
        try:
            self._model = build()
        except BaseException as exc:
            self._error = exc

    def close(self) -> None:
        """Drop the model, once its build has ended: a build left running in native code (an
        ONNX Runtime or torch load) when the interpreter exits aborts the process."""
        self._thread.join()
        self._model = None

    def get(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"the {self._name} model failed to load: {self._error}") from (
                self._error
            )
        assert self._model is not None
        return self._model

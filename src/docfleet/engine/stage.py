"""The stage contract: cheap picklable constructor, heavy ``load(device)``, batch ``__call__``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from docfleet.engine.devices import Device


class StageOptions(BaseModel):
    """Base of every stage's options: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Stage:
    """A unit of model work that the engine runs as replicas on devices.

    Subclasses set ``name`` and ``Options``, keep ``__init__`` cheap (it runs in the parent and
    the stage is pickled to each worker), do heavy work in :meth:`load`, and implement
    :meth:`__call__`, which maps a batch to a list of outputs of the same length and order.
    Stages know nothing about executors.

    >>> class Double(Stage):
    ...     name = "double"
    ...     def __call__(self, batch):
    ...         return [2 * x for x in batch]
    >>> Double()([1, 2])
    [2, 4]
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[StageOptions]] = StageOptions
    #: Batch size used when the caller asks for ``batch_size="auto"``.
    preferred_batch_size: ClassVar[int] = 16
    #: As the first of several fused stages, run one batch ahead on a helper thread of the
    #: worker (CPU work such as rendering overlaps the next stages' inference).
    runs_ahead: ClassVar[bool] = False
    #: Its place in a document pipeline (see :mod:`docfleet.jobs.run.pipeline_spec`): ``source``
    #: (page task -> rendered page), ``page`` (works on a rendered page), ``assemble`` (page -> its
    #: record), ``record`` (works on a page record); empty for stages of other jobs.
    role: ClassVar[str] = ""

    def __init__(self, options: StageOptions | None = None, **overrides: Any) -> None:
        if options is None:
            options = self.Options(**overrides)
        elif overrides:
            options = self.Options(**{**options.model_dump(), **overrides})
        elif not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__} takes {self.Options.__name__}")
        self.options = options

    @property
    def label(self) -> str:
        """The name used in error records and logs."""
        return self.name or type(self).__name__

    def load(self, device: Device) -> None:
        """Load models onto ``device`` (``cuda:0`` inside a process worker, or ``cpu``)."""

    def __call__(self, batch: list[Any]) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what :meth:`load` acquired."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options!r})"

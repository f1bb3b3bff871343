"""The public API: ``Fleet(devices=...).map(stage, items)`` spreads a model over every device."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from docfleet.engine.devices import Device, parse_devices
from docfleet.engine.discovery import GpuDiscovery, discover_gpus
from docfleet.engine.executors.local import LocalExecutor
from docfleet.engine.executors.ray_engine import RayExecutor
from docfleet.engine.executors.slots import Slot, plan_slots
from docfleet.engine.progress import ProgressBar, progress_enabled
from docfleet.engine.registry import PipelineSpec, StageGroup, make_pipeline, stage_groups
from docfleet.engine.results import Result
from docfleet.engine.stats import RunStats
from docfleet.settings.engine import EngineOptions


class Fleet:
    """Runs stages as replicas on a machine's devices; every item yields exactly one Result.

    Settings are the fields of :class:`~docfleet.settings.engine.EngineOptions`: ``devices``
    ("auto", "cpu", "cuda", "cuda:0,cuda:2", ...), ``num_gpus``, ``workers`` ("process" or
    "thread"), ``replicas`` per device, ``cpu_threads`` per replica, ``batch_size``,
    ``max_attempts``, ``item_timeout``, ``ordered``, ``prefetch``, ``max_in_flight``,
    ``shutdown_grace`` and ``progress``.

    >>> from docfleet import Fleet
    >>> fleet = Fleet(devices="cpu", replicas=2, batch_size=4, progress=False)
    >>> results = list(fleet.map("matmul", range(10)))
    >>> [r.index for r in results] == list(range(10)) and all(r.ok for r in results)
    True
    >>> results[0].device
    'cpu'
    """

    def __init__(self, options: EngineOptions | None = None, /, **settings: Any) -> None:
        if options is not None and settings:
            options = options.model_copy(update=settings)
        self.options = options if options is not None else _engine_options(settings)
        self._discovery: GpuDiscovery | None = None

    def devices(self) -> list[Device]:
        """The devices this fleet runs on (one entry per replica), after validation."""
        return [slot.device for slot in self._slots()]

    def map(self, stages: PipelineSpec, items: Iterable[Any]) -> ResultStream:
        """Run ``stages`` (a stage, a stage name, or a list fused in each worker) over ``items``.

        Returns an iterator of :class:`Result`, one per item, in input order unless the fleet
        was made with ``ordered=False``. Items are read lazily, so ``items`` may be a generator
        over millions of inputs.
        """
        groups = stage_groups(stages)
        if groups is not None:
            return self._map_groups(groups, items)
        pipeline = make_pipeline(stages)
        opts = self.options
        batch_size = _batch_size(opts.batch_size, pipeline)
        progress = self._progress(items)
        executor: LocalExecutor | RayExecutor
        if opts.engine == "ray":
            executor = RayExecutor(pipeline, opts, batch_size, progress)
        else:
            executor = LocalExecutor(pipeline, self._slots(), opts, batch_size, progress)
        return ResultStream(executor, items, progress)

    def _progress(self, items: Iterable[Any]) -> ProgressBar | None:
        """The run's progress bar (counting ``items`` when they have a length), if shown."""
        if not progress_enabled(self.options.progress):
            return None
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
        return ProgressBar(total, self.options.unit)

    def _map_groups(self, groups: list[StageGroup], items: Iterable[Any]) -> Any:
        """Each group on a pool of its own; results in input order, one per item."""
        from docfleet.engine.executors.groups import GroupedStream

        if self.options.engine == "ray":
            return self._map_groups_on_ray(groups, items)
        shares = _cpu_thread_shares(groups, self.options)

        def start(group: StageGroup, last: bool) -> Any:
            settings = {**group.engine_settings(), "ordered": True, **shares.get(id(group), {})}
            if not last:
                settings["progress"] = False  # the bar counts what leaves the pipeline
            fleet = Fleet(self.options.model_copy(update=settings))
            return lambda feed: fleet.map(list(group.stages), feed)

        starts = [start(g, i == len(groups) - 1) for i, g in enumerate(groups)]
        labels = ["+".join(_stage_label(s) for s in g.stages) for g in groups]
        return GroupedStream(starts, items, labels=labels)

    def _map_groups_on_ray(self, groups: list[StageGroup], items: Iterable[Any]) -> ResultStream:
        """Each group an actor pool of its own on the Ray cluster (see ``RayExecutor``)."""
        from docfleet.engine.executors.ray_engine import RayGroup

        ray_groups = []
        for group in groups:
            stages = make_pipeline(list(group.stages))
            batch_size = _batch_size(group.batch_size or self.options.batch_size, stages)
            ray_groups.append(RayGroup(stages, group.devices, group.replicas, batch_size))
        progress = self._progress(items)
        stages = [s for g in ray_groups for s in g.stages]
        executor = RayExecutor(stages, self.options, batch_size, progress, groups=ray_groups)
        return ResultStream(executor, items, progress)

    def _slots(self) -> list[Slot]:
        opts = self.options
        names = opts.devices.split(",") if isinstance(opts.devices, str) else opts.devices
        needs_gpu = opts.num_gpus is not None or any(
            n.strip().lower() not in ("cpu", "mps") for n in names
        )
        if needs_gpu and self._discovery is None:
            self._discovery = discover_gpus()
        devices = parse_devices(opts.devices, num_gpus=opts.num_gpus, discovery=self._discovery)
        return plan_slots(
            devices, replicas=opts.replicas, discovery=self._discovery, threads=opts.cpu_threads
        )


class ResultStream(Iterator[Result]):
    """Iterator of a run's results; ``stats`` holds live per-device figures.

    ``stop()`` ends a run early and cleanly: no new work starts, batches in hand finish and
    their results are still yielded. ``close()`` (or leaving a ``with`` block) abandons the run
    and ends every worker.
    """

    def __init__(
        self,
        executor: LocalExecutor | RayExecutor,
        items: Iterable[Any],
        progress: ProgressBar | None,
    ) -> None:
        self._executor = executor
        self._progress = progress
        self._results = executor.run(items)

    @property
    def stats(self) -> RunStats:
        return self._executor.stats

    def __iter__(self) -> ResultStream:
        return self

    def __next__(self) -> Result:
        try:
            return next(self._results)
        except BaseException:
            self._close_progress()
            raise

    def stop(self) -> None:
        """Take no new work; iteration ends once the batches in hand are done."""
        self._executor.stop()

    def wake(self) -> None:
        """The item source has items again after yielding ``NOTHING_YET``: read it now (the
        local engine; others read it again within a second anyway)."""
        wake = getattr(self._executor, "wake", None)
        if wake is not None:
            wake()

    def close(self) -> None:
        """Abandon the run now: end every worker, yield nothing more."""
        self._results.close()
        self._close_progress()

    def __enter__(self) -> ResultStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None


def _batch_size(batch: int | str, stages: list[Any]) -> int:
    """Items per batch: the one set, or (``auto``) the smallest the stages prefer."""
    return max(1, batch if isinstance(batch, int) else min(s.preferred_batch_size for s in stages))


def _engine_options(settings: dict[str, Any]) -> EngineOptions:
    try:
        return EngineOptions(**settings)
    except ValidationError as exc:
        valid = ", ".join(EngineOptions.model_fields)
        raise ValueError(f"invalid Fleet settings: {exc}\nvalid settings: {valid}") from None


def _stage_label(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", "") or getattr(spec, "__name__", type(spec).__name__)


def _cpu_thread_shares(groups: list[StageGroup], options: EngineOptions) -> dict[int, Any]:
    """CPU groups share the cores: with no ``cpu_threads`` set, each CPU replica of every group
    gets an equal share (a pool of its own would otherwise take every core)."""
    from docfleet.engine.devices import available_cores

    if options.cpu_threads is not None:
        return {}

    def on_cpu(group: StageGroup) -> bool:
        devices = group.devices if group.devices is not None else options.devices
        names = devices.split(",") if isinstance(devices, str) else list(devices)
        return all(str(n).strip().lower() == "cpu" for n in names)

    cpu_groups = [g for g in groups if on_cpu(g)]
    replicas = sum(g.replicas or options.replicas for g in cpu_groups)
    if len(cpu_groups) < 2 or replicas < 1:
        return {}
    share = max(1, available_cores() // replicas)
    return {id(g): {"cpu_threads": share} for g in cpu_groups}

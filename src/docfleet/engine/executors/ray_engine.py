"""The Ray executor: the same stages as Ray Data ``map_batches`` actor pools, for clusters.

A first stage that runs ahead (rendering) becomes a pool of CPU actors feeding the model actors
(one replica per actor, ``num_gpus=1`` each on a GPU cluster, else one per CPU). Stage groups
(:class:`~docfleet.engine.registry.StageGroup`) each become an actor pool of their own, with the
resources their ``devices`` and ``replicas`` ask for (see :func:`group_resources`). Rows carry
pickled payloads, and every actor catches failures per item, so a bad document is an error
record and never fails the dataset. Ray restarts an actor that dies and retries its batch;
a cluster-wide ledger counts each item's starts, so an item that keeps killing its actor ends
as a ``WorkerDied`` error after ``max_attempts``, and the driver keeps the first result of an
item that ran twice, so the output holds exactly one record per item.

With ``item_timeout``, an actor runs its stages on a helper thread and waits for them at most
that long per item. A batch past its time cannot be stopped in place, so the actor records
its items in the ledger and exits; Ray restarts it and runs the batch again, and those items
then run one at a time. An item that overruns alone ends as a ``Timeout`` error, as in the
local engine.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from docfleet.engine.devices import Device
from docfleet.engine.executors.messages import Outcome
from docfleet.engine.executors.runner import BatchRunner, Partial
from docfleet.engine.results import ErrorInfo, Result
from docfleet.engine.stage import Stage
from docfleet.engine.stats import RunStats, WorkerStats
from docfleet.settings.engine import EngineOptions


def require_ray() -> Any:
    """Import ray, or explain how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError("the Ray engine needs Ray Data: pip install 'docfleet[ray]'") from None
    return ray


@dataclass(frozen=True)
class RayGroup:
    """Stages fused in each actor of one pool; ``devices``/``replicas``/``batch_size`` left
    ``None`` are the engine's."""

    stages: list[Stage]
    devices: str | None = None
    replicas: int | None = None
    batch_size: int | None = None


class RayExecutor:
    """Runs ``stages`` over items on a Ray cluster (started locally when no address is given);
    with ``groups``, each group is an actor pool of its own, streaming into the next."""

    def __init__(
        self,
        stages: Sequence[Stage],
        options: EngineOptions,
        batch_size: int,
        progress: Any = None,
        *,
        groups: Sequence[RayGroup] = (),
    ) -> None:
        self._stages = list(stages)
        self._groups = list(groups)
        self._opts = options
        self._batch_size = batch_size
        self._progress = progress
        self._stopping = False
        self.stats = RunStats()

    def stop(self) -> None:
        """Take no new results; the iterator ends at the next one."""
        self._stopping = True

    def run(self, items: Iterable[Any]) -> Iterator[Result]:
        ray = require_ray()
        began = time.perf_counter()
        todo = list(items)
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(
                address=self._opts.ray_address, include_dashboard=False,
                logging_level="ERROR", log_to_driver=False, ignore_reinit_error=True,
            )  # fmt: skip
        try:
            yield from self._run(ray, todo, began)
        finally:
            self.stats.wall_seconds = time.perf_counter() - began
            self.stats.not_run = len(todo) - self.stats.items
            if started_here:
                ray.shutdown()

    def _run(self, ray: Any, todo: list[Any], began: float) -> Iterator[Result]:
        import logging

        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ledger = _ledger_class().options(num_cpus=0).remote()
        rows = [{"index": i, "payload": pickle.dumps(item)} for i, item in enumerate(todo)]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 200)))
        for number, (group, resources, batch_size) in enumerate(self._plan(ray)):
            dataset = dataset.map_batches(
                _StageActor,
                fn_constructor_kwargs={
                    "stages": pickle.dumps(group),
                    "group": number,
                    "label": "+".join(s.label for s in group) if self._groups else "",
                    "gpu": resources["num_gpus"] > 0,
                    "ledger": ledger,
                    "max_attempts": self._opts.max_attempts,
                    "batch_limit": batch_size,
                    "item_timeout": self._opts.item_timeout,
                },
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=resources["actors"]),
                num_cpus=resources["num_cpus"],
                num_gpus=resources["num_gpus"],
            )  # Ray Data restarts dead actors and retries their batches by default
        done: dict[int, Result] = {}
        seen: set[int] = set()
        next_index = 0
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            if not self.stats.startup_seconds:
                self.stats.startup_seconds = time.perf_counter() - began
            for index, payload in zip(batch["index"], batch["payload"], strict=True):
                index = int(index)
                if index in seen:
                    continue  # a batch Ray ran again after an actor died
                seen.add(index)
                outcome = pickle.loads(payload)
                result = self._result(index, todo[index], outcome)
                self._count(result, outcome.trail)
                if not self._opts.ordered:
                    yield result
                else:
                    done[index] = result
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
            if self._stopping:
                break
        for index in sorted(done):
            yield done.pop(index)

    def _plan(self, ray: Any) -> list[tuple[list[Stage], dict[str, Any], int]]:
        """Stage groups, their actor pools and batch sizes: the groups given, else the fused
        stages (with CPU actors for a first stage that runs ahead)."""
        total = ray.cluster_resources()
        gpus = int(total.get("GPU", 0))
        cpus = max(1, int(total.get("CPU", 1)))
        if self._groups:
            pools = [group_resources(g.devices or self._opts.devices, g.replicas, gpus=gpus,
                                     cpus=cpus) for g in self._groups]  # fmt: skip
            share_cpus(pools, [g.replicas is None for g in self._groups], cpus)
            return [(g.stages, pool, g.batch_size or self._batch_size)
                    for g, pool in zip(self._groups, pools, strict=True)]  # fmt: skip
        wants_gpu = self._opts.devices not in ("cpu",) and gpus > 0
        model = {
            "actors": gpus if wants_gpu else cpus,
            "num_cpus": 1 if not wants_gpu else 0.5,
            "num_gpus": 1 if wants_gpu else 0,
        }
        stages = self._stages
        if len(stages) > 1 and getattr(stages[0], "runs_ahead", False):
            feeder = {"actors": max(1, cpus // 4), "num_cpus": 0, "num_gpus": 0}
            return [(stages[:1], feeder, self._batch_size), (stages[1:], model, self._batch_size)]
        return [(stages, model, self._batch_size)]

    def _result(self, index: int, item: Any, outcome: Outcome) -> Result:
        return Result(index, item, outcome.ok, outcome.value, outcome.error,
                      outcome.device or "ray", outcome.seconds, outcome.attempts)  # fmt: skip

    def _count(self, result: Result, trail: Sequence[tuple[str, float]] = ()) -> None:
        """Count a result, by the actor that finished it; with stage groups, every group's
        actor it passed counts it too (``<group's stages> on <node>/<device>``)."""
        self.stats.items += 1
        self.stats.ok += result.ok
        self.stats.failed += not result.ok
        for device, seconds in trail or [(result.device, result.seconds)]:
            worker = next((w for w in self.stats.workers if w.device == device), None)
            if worker is None:
                worker = WorkerStats(device=device, replica=0, alive=True)
                self.stats.workers.append(worker)
            worker.items += 1
            worker.failed += not result.ok
            worker.busy_seconds += seconds
        if self._progress is not None:
            self._progress.advance(result.device, 1, int(not result.ok))


def group_resources(
    devices: str | Sequence[str], replicas: int | None, *, gpus: int, cpus: int
) -> dict[str, Any]:
    """The actor pool of one stage group on a cluster of ``gpus`` GPUs and ``cpus`` CPUs.

    ``cpu`` groups get CPU actors (``replicas`` of them, else one per CPU); a group on GPUs
    gets one actor per GPU listed (every GPU for ``cuda``/``auto``) times ``replicas``, each
    holding ``1/replicas`` of a GPU. Ray places actors on any node's GPUs: device numbers
    choose how many, not which. ``auto`` on a cluster without GPUs is the CPU.

    >>> group_resources("cpu", None, gpus=2, cpus=8)
    {'actors': 8, 'num_cpus': 1, 'num_gpus': 0}
    >>> group_resources("cuda:0", 2, gpus=2, cpus=8)
    {'actors': 2, 'num_cpus': 0.5, 'num_gpus': 0.5}
    >>> group_resources("auto", None, gpus=0, cpus=4)
    {'actors': 4, 'num_cpus': 1, 'num_gpus': 0}
    """
    names = [n.strip().lower() for n in (devices.split(",") if isinstance(devices, str)
             else devices) if n.strip()]  # fmt: skip
    on_cpu = all(n in ("cpu", "mps") for n in names) or (names == ["auto"] and gpus == 0)
    if on_cpu:
        return {"actors": replicas or cpus, "num_cpus": 1, "num_gpus": 0}
    if gpus == 0:
        raise ValueError(f"a stage group asks for {','.join(names)} but the Ray cluster has "
                         "no GPUs; give the group devices: cpu, or join one with GPUs")  # fmt: skip
    per_gpu = max(1, replicas or 1)
    listed = gpus if names in (["auto"], ["cuda"]) else min(gpus, len(names))
    return {"actors": listed * per_gpu, "num_cpus": 0.5, "num_gpus": 1 / per_gpu}


def share_cpus(pools: list[dict[str, Any]], sized_by_us: list[bool], cpus: int) -> None:
    """CPU pools whose size was not given share the CPUs the GPU pools leave, evenly, so that
    every pool's actors can be placed at once (one pool per CPU each would ask for more).

    >>> pools = [{"actors": 8, "num_cpus": 1, "num_gpus": 0},
    ...          {"actors": 2, "num_cpus": 0.5, "num_gpus": 1},
    ...          {"actors": 8, "num_cpus": 1, "num_gpus": 0}]
    >>> share_cpus(pools, [True, True, True], 8)
    >>> [p["actors"] for p in pools]
    [3, 2, 3]
    """
    left = cpus - sum(p["actors"] * p["num_cpus"] for p in pools if p["num_gpus"])
    left -= sum(p["actors"] * p["num_cpus"] for p, ours in zip(pools, sized_by_us, strict=True)
                if not p["num_gpus"] and not ours)  # fmt: skip
    ours = [p for p, mine in zip(pools, sized_by_us, strict=True) if mine and not p["num_gpus"]]
    for pool in ours:
        pool["actors"] = max(1, int(left // len(ours)))


def _ledger_class() -> Any:
    ray = require_ray()

    @ray.remote
    class Ledger:
        """Each item's starts, and whether it overran its time in a batch or alone."""

        def __init__(self) -> None:
            self.starts: dict[str, int] = {}
            self.overran: dict[str, str] = {}  # "batch" or "alone"

        def begin(self, keys: list[str]) -> list[tuple[int, str]]:
            counts = []
            for key in keys:
                self.starts[key] = self.starts.get(key, 0) + 1
                counts.append((self.starts[key], self.overran.get(key, "")))
            return counts

        def overrun(self, keys: list[str], how: str) -> None:
            for key in keys:
                if self.overran.get(key) != "alone":
                    self.overran[key] = how

    return Ledger


class _StageActor:
    """One replica of a stage group inside a Ray actor."""

    def __init__(
        self,
        stages: bytes,
        group: int,
        label: str,
        gpu: bool,
        ledger: Any,
        max_attempts: int,
        batch_limit: int,
        item_timeout: float | None = None,
    ) -> None:
        import os
        from concurrent.futures import ThreadPoolExecutor

        import ray

        self._stages: list[Stage] = pickle.loads(stages)
        threads = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
        device = Device("cuda", 0) if gpu else Device("cpu")
        self._device = device.with_slot(threads=threads, replica=0)
        for stage in self._stages:
            stage.load(self._device)
        self._runner = BatchRunner(self._stages, batch_limit)
        self._ledger = ledger
        self._group = group
        self._trail_label = label
        self._max_attempts = max_attempts
        node = ray.get_runtime_context().get_node_id()[:8]
        self._label = f"{node}/{device}"
        self._pid = os.getpid()
        self._timeout = item_timeout
        self._pool = ThreadPoolExecutor(1, "docfleet-stage") if item_timeout else None

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import ray

        indices = [int(i) for i in batch["index"]]
        incoming = [pickle.loads(p) for p in batch["payload"]]
        values = [x.value if isinstance(x, Outcome) else x for x in incoming]
        live = [k for k, x in enumerate(incoming) if not (isinstance(x, Outcome) and not x.ok)]
        keys = [f"{self._group}:{indices[k]}" for k in live]
        starts = ray.get(self._ledger.begin.remote(keys))
        outs: list[Outcome | None] = [x if isinstance(x, Outcome) else None for x in incoming]
        together, alone = [], []
        for k, (count, overran) in zip(live, starts, strict=True):
            if overran == "alone" or (overran and count > self._max_attempts):
                error = ErrorInfo("Timeout", f"ran longer than {self._timeout:g} s on "
                                  f"{self._label}; the Ray actor was replaced")  # fmt: skip
                outs[k] = Outcome(False, None, error, 0.0, self._label, count - 1)
            elif count > self._max_attempts:
                error = ErrorInfo("WorkerDied", f"the Ray actor on {self._label} died while "
                                  f"running this item, {count - 1} times")  # fmt: skip
                outs[k] = Outcome(False, None, error, 0.0, self._label, count - 1)
            else:
                (alone if overran else together).append((k, count))
        for group in ([together] if together else []) + [[one] for one in alone]:
            keys_here = [f"{self._group}:{indices[k]}" for k, _ in group]
            partial = Partial([values[k] for k, _ in group])
            self._advance(partial, keys_here, "alone" if len(group) == 1 else "batch")
            for (k, count), outcome in zip(group, partial.outcomes(), strict=True):
                came = incoming[k] if isinstance(incoming[k], Outcome) else None
                before, trail = (came.seconds, came.trail) if came else (0.0, ())
                if self._trail_label:
                    trail = (*trail, (f"{self._trail_label} on {self._label}", outcome.seconds))
                outs[k] = Outcome(outcome.ok, outcome.value, outcome.error,
                                  outcome.seconds + before, self._label, count, trail)  # fmt: skip
        payloads = np.empty(len(outs), dtype=object)
        payloads[:] = [pickle.dumps(o) for o in outs]
        return {"index": np.asarray(indices), "payload": payloads}

    def _advance(self, partial: Partial, keys: list[str], how: str) -> None:
        """Run ``partial`` through the stages; past its time, record the overrun and exit."""
        if self._pool is None or self._timeout is None:
            self._runner.advance(partial, self._stages)
            return
        import os
        from concurrent.futures import TimeoutError as FutureTimeout

        import ray

        future = self._pool.submit(self._runner.advance, partial, self._stages)
        try:
            future.result(timeout=self._timeout * len(partial.values))
        except FutureTimeout:
            ray.get(self._ledger.overrun.remote(keys, how))
            os._exit(1)  # the stuck thread cannot be stopped; Ray restarts this actor

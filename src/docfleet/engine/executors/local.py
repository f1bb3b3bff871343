"""The local executor: one worker per (device, replica), pulling batches from one shared queue.

The dispatcher runs in the consumer's thread. It reads the input lazily (at most
``max_in_flight`` items between the oldest unreported item and the newest read), hands a batch
to a worker whenever that worker has room for one more, and turns every input item into exactly
one :class:`Result`: a worker that dies or hangs is replaced and its items are re-run alone, up
to ``max_attempts`` times.
"""

from __future__ import annotations

import itertools
import multiprocessing
import pickle
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from docfleet.engine.executors.messages import (
    NOTHING_YET,
    Batch,
    Died,
    Done,
    Drain,
    LoadFailed,
    Ready,
    Skipped,
    Stop,
)
from docfleet.engine.executors.slots import Slot
from docfleet.engine.executors.tasks import Task, WorkerState, lost_error, lost_tasks
from docfleet.engine.executors.workers import ProcessWorker, ThreadWorker
from docfleet.engine.gpu_sampler import GpuSampler
from docfleet.engine.results import ErrorInfo, Result
from docfleet.engine.stage import Stage
from docfleet.engine.stats import RunStats
from docfleet.settings.engine import EngineOptions

MAX_STARTS_WITHOUT_READY = 3


_WAKE = object()  # put on the inbox by stop(), to wake the dispatch loop


class EngineError(RuntimeError):
    """No worker could run the pipeline (every replica failed to start or load)."""


class ProgressSink(Protocol):
    def advance(self, device: str, count: int, failed: int) -> None: ...


class LocalExecutor:
    """Runs ``stages`` fused in each worker over ``slots`` (one per device replica)."""

    def __init__(
        self,
        stages: Sequence[Stage],
        slots: Sequence[Slot],
        options: EngineOptions,
        batch_size: int,
        progress: ProgressSink | None = None,
    ) -> None:
        if not slots:
            raise ValueError("at least one device slot is needed")
        self._stages = list(stages)
        self._slots = list(slots)
        self._opts = options
        self._progress = progress
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ids = itertools.count()
        self._workers: dict[int, WorkerState] = {}  # worker_id -> live worker
        self._starts: dict[int, int] = {}  # slot number -> starts since its last ready
        self._retired: dict[int, ErrorInfo] = {}  # slot number -> why it was given up
        self._pending: deque[Task] = deque()
        self._done: dict[int, Result] = {}
        self._next = 0  # next index to report (ordered) / count reported (unordered)
        self._read = 0
        self._exhausted = False
        self._stopping = False
        self._drained = False  # the workers were told to begin no more batches
        self._load_lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._began = 0.0
        self._window = options.max_in_flight or max(
            64, 4 * len(slots) * options.prefetch * batch_size
        )
        self.stats = RunStats()
        self.stats.workers = [s.stats for s in self._slots]
        for slot in self._slots:
            slot.stats.batch_limit = batch_size
        if options.workers == "process":
            self._check_picklable()

    # -- public ------------------------------------------------------------------------------

    def run(self, items: Iterable[Any]) -> Iterator[Result]:
        """One Result per item, in input order unless ``options.ordered`` is false."""
        source = iter(items)
        self._began = time.perf_counter()
        sampler = GpuSampler.for_devices([str(s.device) for s in self._slots])
        if sampler is not None:
            sampler.start()
        try:
            for slot in self._slots:
                self._start(slot)
            while True:
                self._refill(source)
                self._dispatch()
                yield from self._release()
                if self._stopping:
                    self._drain()  # stop() may have come from the consumer of that result
                if self._finished():
                    break
                self._wait()
            self._shutdown(graceful=True)
        except BaseException:
            self._shutdown(graceful=False)
            raise
        finally:
            self.stats.wall_seconds = time.perf_counter() - self._began
            self.stats.not_run = self._read - self.stats.items
            self.stats.gpus = sampler.stop() if sampler is not None else []

    def stop(self) -> None:
        """Take no new work: the batches running finish, those handed out but not begun are
        given back unrun, and the iterator ends (items never run yield no result).

        Safe from a signal handler: it sets a flag and wakes the dispatch loop (``SimpleQueue``
        puts are reentrant), which tells the workers; a signal may land mid-send on a pipe.
        """
        self._stopping = True
        self._inbox.put(_WAKE)

    def wake(self) -> None:
        """Read the source again now (it has items after yielding ``NOTHING_YET``) instead of
        within the second. Safe from any thread."""
        self._inbox.put(_WAKE)

    # -- workers -----------------------------------------------------------------------------

    def _start(self, slot: Slot) -> None:
        worker_id = next(self._ids)
        self._starts[slot.number] = self._starts.get(slot.number, 0) + 1
        limit = slot.stats.batch_limit
        if self._opts.workers == "thread":
            stages = pickle.loads(pickle.dumps(self._stages))  # each replica its own copy
            handle: ThreadWorker | ProcessWorker = ThreadWorker(
                worker_id, stages, slot.device, limit, self._inbox, self._load_lock
            )
        else:
            handle = ProcessWorker(
                worker_id, self._stages, slot.child_device, limit, self._inbox,
                slot.env, self._context,
            )  # fmt: skip
        self._workers[worker_id] = WorkerState(slot, worker_id, handle)

    def _retire(self, worker: WorkerState, error: ErrorInfo) -> None:
        self._retired[worker.slot.number] = error
        worker.slot.stats.alive = False
        if len(self._retired) == len(self._slots):
            raise EngineError(f"no worker could start: {error}")

    # -- input and dispatch --------------------------------------------------------------------

    def _refill(self, source: Iterator[Any]) -> None:
        room = sum(w.slot.stats.batch_limit for w in self._workers.values())
        want = room * self._opts.prefetch
        while not (self._exhausted or self._stopping) and len(self._pending) < want:
            if self._read - self._next >= self._window:
                break
            try:
                item = next(source)
            except StopIteration:
                self._exhausted = True
                break
            if item is NOTHING_YET:  # an open-ended source (a service) has no item now
                break
            self._pending.append(Task(self._read, item))
            self._read += 1

    def _dispatch(self) -> None:
        if self._stopping:
            self._drain()
            return
        order = sorted(self._workers.values(), key=lambda w: len(w.batches))
        for worker in order:
            while worker.ready and self._pending and len(worker.batches) < self._opts.prefetch:
                limit = worker.slot.stats.batch_limit
                tasks = [self._pending.popleft()]
                if not tasks[0].solo:
                    while self._pending and len(tasks) < limit and not self._pending[0].solo:
                        tasks.append(self._pending.popleft())
                batch_id = next(self._ids)
                if not worker.batches:
                    worker.head_started = time.perf_counter()
                worker.batches[batch_id] = tasks
                worker.handle.send(Batch(batch_id, [t.item for t in tasks]))

    def _drain(self) -> None:
        """Tell every worker, once, to begin no batch it has not begun."""
        if not self._drained:
            self._drained = True
            for worker in self._workers.values():
                worker.handle.send(Drain())

    # -- results -------------------------------------------------------------------------------

    def _complete(self, result: Result) -> None:
        self._done[result.index] = result
        self.stats.items += 1
        if result.ok:
            self.stats.ok += 1
        else:
            self.stats.failed += 1

    def _release(self) -> Iterator[Result]:
        if self._opts.ordered and not self._draining():
            while self._next in self._done:
                yield self._done.pop(self._next)
                self._next += 1
            return
        for index in sorted(self._done) if self._opts.ordered else list(self._done):
            yield self._done.pop(index)
            self._next += 1

    def _draining(self) -> bool:
        """Stopped and nothing in hand: report what finished even past items that never ran."""
        return self._stopping and not any(w.batches for w in self._workers.values())

    def _finished(self) -> bool:
        if self._done:
            return False
        if self._draining():
            return True
        busy = any(w.batches for w in self._workers.values())
        return self._exhausted and not self._pending and not busy

    # -- events --------------------------------------------------------------------------------

    def _wait(self) -> None:
        timeout = self._next_deadline()
        try:
            message = self._inbox.get(timeout=timeout)
        except queue.Empty:
            message = None
        while message is not None:
            self._handle(message)
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                message = None
        self._check_timeouts()

    def _next_deadline(self) -> float:
        limit = self._opts.item_timeout
        if limit is None:
            return 1.0
        now = time.perf_counter()
        waits = [
            w.head_started + limit * len(next(iter(w.batches.values()))) - now
            for w in self._workers.values()
            if w.batches
        ]
        return max(0.01, min([1.0, *waits]))

    def _handle(self, message: Any) -> None:
        if message is _WAKE:
            return
        worker = self._workers.get(message.worker_id)
        if worker is None:
            return  # a replaced worker's late message
        if isinstance(message, Ready):
            worker.ready = True
            self._starts[worker.slot.number] = 0
            worker.slot.stats.alive = True
            worker.slot.stats.load_seconds += message.load_seconds
            if not self.stats.startup_seconds and self.stats.workers_alive == len(self._slots):
                self.stats.startup_seconds = time.perf_counter() - self._began
        elif isinstance(message, Done):
            self._on_done(worker, message)
        elif isinstance(message, Skipped):
            worker.batches.pop(message.batch_id, None)  # not begun: the run is stopping
            worker.head_started = time.perf_counter()
        elif isinstance(message, LoadFailed):
            del self._workers[worker.worker_id]
            self._requeue(worker, charge=False)
            self._retire(worker, message.error)
        elif isinstance(message, Died):
            self._on_death(worker, message.exitcode, timed_out=False)

    def _on_done(self, worker: WorkerState, message: Done) -> None:
        tasks = worker.batches.pop(message.batch_id)
        stats = worker.slot.stats
        device = str(worker.slot.device)
        failed = 0
        for task, outcome in zip(tasks, message.outcomes, strict=True):
            failed += not outcome.ok
            self._complete(
                Result(task.index, task.item, outcome.ok, outcome.value, outcome.error,
                       device, outcome.seconds, task.attempts + 1)
            )  # fmt: skip
        stats.items += len(tasks)
        stats.failed += failed
        stats.batches += 1
        stats.busy_seconds += message.busy_seconds
        stats.batch_limit = message.batch_limit
        worker.head_started = time.perf_counter()
        if self._progress is not None:
            self._progress.advance(device, len(tasks), failed)

    def _check_timeouts(self) -> None:
        limit = self._opts.item_timeout
        if limit is None:
            return
        now = time.perf_counter()
        for worker in list(self._workers.values()):
            if worker.batches:
                head = next(iter(worker.batches.values()))
                if now - worker.head_started > limit * len(head):
                    worker.handle.kill()
                    self._on_death(worker, None, timed_out=True)

    def _on_death(self, worker: WorkerState, exitcode: int | None, *, timed_out: bool) -> None:
        del self._workers[worker.worker_id]
        worker.slot.stats.alive = False
        self._requeue(worker, charge=True, timed_out=timed_out, exitcode=exitcode)
        if self._starts.get(worker.slot.number, 0) >= MAX_STARTS_WITHOUT_READY:
            why = f"the worker on {worker.slot.device} died {MAX_STARTS_WITHOUT_READY} times "
            self._retire(worker, ErrorInfo("WorkerDied", why + "before it was ready"))
            return
        worker.slot.stats.restarts += 1
        if not self._stopping:
            self._start(worker.slot)

    def _requeue(
        self,
        worker: WorkerState,
        *,
        charge: bool,
        timed_out: bool = False,
        exitcode: int | None = None,
    ) -> None:
        """Put a lost worker's batches back in the queue; the running batch's items run alone,
        and those out of attempts end as errors."""
        back, final = lost_tasks(worker.batches, charge=charge, timed_out=timed_out,
                                 max_attempts=self._opts.max_attempts)  # fmt: skip
        device = str(worker.slot.device)
        for task in final:
            error = lost_error(task, device, timed_out=timed_out, exitcode=exitcode,
                               limit=self._opts.item_timeout)  # fmt: skip
            worker.slot.stats.failed += 1
            self._complete(
                Result(task.index, task.item, False, None, error, device, 0.0, task.attempts)
            )
            if self._progress is not None:
                self._progress.advance(device, 1, 1)
        worker.batches.clear()
        self._pending.extendleft(reversed(back))

    # -- shutdown ------------------------------------------------------------------------------

    def _shutdown(self, *, graceful: bool) -> None:
        workers = list(self._workers.values())
        self._workers.clear()
        for worker in workers:
            worker.slot.stats.alive = False
            if graceful:
                worker.handle.send(Stop())
            else:
                worker.handle.kill()
        deadline = time.perf_counter() + (self._opts.shutdown_grace if graceful else 5.0)
        for worker in workers:
            if not worker.handle.join(max(0.0, deadline - time.perf_counter())):
                worker.handle.kill()
                worker.handle.join(5.0)

    def _check_picklable(self) -> None:
        try:
            pickle.dumps(self._stages)
        except Exception as exc:
            raise TypeError(
                f"the stages cannot be pickled for process workers ({exc}); keep only plain "
                "options in a stage's constructor and build models in load(), or use "
                "workers='thread'"
            ) from exc

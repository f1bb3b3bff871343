"""Stage groups on devices of their own: one engine per group, items streaming between them.

``[layout, ocr]`` on ``cuda:0`` and ``[embed]`` on ``cuda:1``: each group is an engine of its own
(its workers, retries, out-of-memory halving and timeouts as for one group). A thread pumps each
group's results into a bounded queue that the next group reads (``NOTHING_YET`` while it is
empty, so that group's engine keeps serving its workers), so every device stays busy and memory
stays flat on any input. An item that fails in a group leaves the pipeline there: its failure
is reported in its place among the last group's results, with the original item, so every item
still yields exactly one result, in input order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from docfleet.engine.executors.messages import NOTHING_YET
from docfleet.engine.results import Result
from docfleet.engine.stats import RunStats

_END = object()


class GroupedStream(Iterator[Result]):
    """Results of a pipeline of stage groups, one per input item, in input order.

    ``starts`` builds each group's stream from its items (``start(items) -> ResultStream``);
    ``queue_size`` bounds the items waiting between two groups.
    """

    def __init__(
        self,
        starts: list[Callable[[Iterable[Any]], Any]],
        items: Iterable[Any],
        *,
        queue_size: int = 64,
        labels: list[str] | None = None,
    ) -> None:
        self.labels = labels or [f"group {n}" for n in range(len(starts))]
        self._originals: dict[int, Any] = {}  # original index -> item, while in the pipeline
        self._failed: dict[int, Result] = {}  # failures of earlier groups, by original index
        self._reported: list[int] = []
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        # the original index of each item a group was fed, in the order it was fed; each list
        # grows and is read on the one thread that drives that group's engine
        self._positions: list[list[int]] = [[] for _ in starts]
        self.streams: list[Any] = []
        feed: Iterable[Any] = self._numbered(items)
        for number, start in enumerate(starts):
            self.streams.append(start(feed))
            if number == len(starts) - 1:
                break
            hand_over: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
            self._threads.append(threading.Thread(
                target=self._pump, args=(number, hand_over), daemon=True,
                name=f"docfleet-group-{number}",
            ))  # fmt: skip
            feed = self._drain(number + 1, hand_over)
        self._results = self._merge()
        for thread in self._threads:
            thread.start()

    # -- the public face of a stream -------------------------------------------------------

    @property
    def stats(self) -> RunStats:
        """Every group's workers; counts as the caller sees them (one per item)."""
        merged = RunStats()
        for label, stream in zip(self.labels, self.streams, strict=True):
            stats = stream.stats  # each worker shown as "<its group's stages> on <device>"
            merged.workers.extend(
                replace(w, device=f"{label} on {w.device}") for w in stats.workers
            )
            merged.gpus.extend(stats.gpus)
            merged.wall_seconds = max(merged.wall_seconds, stats.wall_seconds)
            merged.startup_seconds = max(merged.startup_seconds, stats.startup_seconds)
        last = self.streams[-1].stats
        merged.items = last.items + len(self._reported)
        merged.ok = last.ok
        merged.failed = last.failed + len(self._reported)
        merged.not_run = sum(s.stats.not_run for s in self.streams)
        return merged

    def __iter__(self) -> GroupedStream:
        return self

    def __next__(self) -> Result:
        return next(self._results)

    def stop(self) -> None:
        for stream in self.streams:
            stream.stop()

    def wake(self) -> None:
        self.streams[0].wake()

    def close(self) -> None:
        for stream in reversed(self.streams):
            stream.close()

    def __enter__(self) -> GroupedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def _numbered(self, items: Iterable[Any]) -> Iterator[Any]:
        index = 0
        for item in items:
            if item is not NOTHING_YET:
                with self._lock:
                    self._originals[index] = item
                self._positions[0].append(index)
                index += 1
            yield item

    def _pump(self, number: int, out: queue.Queue[Any]) -> None:
        """Move one group's results on to the next group's queue; failures go aside."""
        position, following = self._positions[number], self.streams[number + 1]
        try:
            for result in self.streams[number]:
                original = position[result.index]
                if result.ok:
                    out.put((original, result.value))  # waits while the next group is behind
                else:
                    with self._lock:
                        item = self._originals.get(original)
                        self._failed[original] = replace(result, index=original, item=item)
                following.wake()
        except BaseException as exc:  # the caller hears of it after the last group's results
            self._error = exc
        finally:
            out.put(_END)
            following.wake()

    def _drain(self, number: int, source: queue.Queue[Any]) -> Iterator[Any]:
        while True:
            try:
                got = source.get_nowait()
            except queue.Empty:
                yield NOTHING_YET  # the group's engine goes on serving its workers
                continue
            if got is _END:
                return
            original, value = got
            self._positions[number].append(original)
            yield value

    def _merge(self) -> Iterator[Result]:
        """The last group's results with the earlier groups' failures in their places."""
        position = self._positions[-1]
        for result in self.streams[-1]:
            original = position[result.index]
            yield from self._failures_before(original)
            with self._lock:
                item = self._originals.pop(original, result.item)
            yield replace(result, index=original, item=item)
        for thread in self._threads:
            thread.join()
        yield from self._failures_before(None)
        if self._error is not None:
            raise self._error

    def _failures_before(self, original: int | None) -> Iterator[Result]:
        with self._lock:
            due = sorted(i for i in self._failed if original is None or i < original)
            failures = [self._failed.pop(i) for i in due]
            for i in due:
                self._originals.pop(i, None)
            self._reported.extend(due)
        yield from failures

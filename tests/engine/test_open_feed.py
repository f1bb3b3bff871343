"""An open-ended item source, as a service has: the engine keeps its workers while the source has
nothing yet, takes items as they come, and ends only when the source does."""

from __future__ import annotations

import queue
import threading
import time

from docfleet import Fleet
from docfleet.engine.executors.messages import NOTHING_YET
from docfleet.stages.toy import IdentityStage

END = object()


def _feed(inbox: queue.Queue):
    while True:
        try:
            item = inbox.get_nowait()
        except queue.Empty:
            yield NOTHING_YET
            continue
        if item is END:
            return
        yield item


def test_items_that_arrive_later_are_run_by_the_same_workers() -> None:
    inbox: queue.Queue = queue.Queue()
    fleet = Fleet(devices="cpu", workers="thread", replicas=2, ordered=False)
    with fleet.map(IdentityStage(), _feed(inbox)) as stream:
        got: list[int] = []

        def later() -> None:
            for wave in (range(0, 5), range(5, 12)):
                time.sleep(0.3)
                for i in wave:
                    inbox.put(i)
                started = time.perf_counter()
                stream.wake()
                waits.append(time.perf_counter() - started)
            time.sleep(0.3)
            inbox.put(END)
            stream.wake()

        waits: list[float] = []
        feeder = threading.Thread(target=later)
        began = time.perf_counter()
        feeder.start()
        seen_at: list[float] = []
        for result in stream:
            assert result.ok
            got.append(result.value)
            seen_at.append(time.perf_counter() - began)
        feeder.join()
    assert sorted(got) == list(range(12))
    assert stream.stats.items == 12
    assert seen_at[0] < 0.3 + 0.5  # woken: well within the second the engine would wait
    assert sum(w.restarts for w in stream.stats.workers) == 0  # the same workers all along


def test_a_source_that_ends_while_idle_ends_the_run() -> None:
    def source():
        yield 1
        yield NOTHING_YET
        yield 2

    results = list(Fleet(devices="cpu", workers="thread").map(IdentityStage(), source()))
    assert [r.value for r in results] == [1, 2]
    assert [r.index for r in results] == [0, 1]  # NOTHING_YET is no item

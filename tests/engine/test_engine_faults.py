"""Real failures: workers killed with SIGKILL, segfaults, hangs and real out-of-memory errors."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest
from stages_for_tests import FaultyStage, MemoryHungryStage

from docfleet import Fleet


def worker_pids() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name.startswith("docfleet-")]


def test_kill_9_of_one_worker_loses_and_duplicates_nothing():
    fleet = Fleet(devices="cpu", replicas=2, workers="process", batch_size=4, progress=False)
    stream = fleet.map(FaultyStage(seconds=0.005), range(300))
    indices, alive = [], []
    for result in stream:
        indices.append(result.index)
        alive.append(stream.stats.workers_alive)
        if len(indices) == 60:
            victim = worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
    assert indices == list(range(300))
    assert stream.stats.ok == 300
    assert sum(w.restarts for w in stream.stats.workers) == 1
    assert victim not in worker_pids()
    assert alive[-1] == 2  # the pool is back to full size


@pytest.mark.parametrize("fault", ["kill_on", "segfault_on"])
def test_poison_item_fails_after_bounded_attempts_and_the_rest_completes(fault):
    fleet = Fleet(
        devices="cpu", replicas=2, workers="process", batch_size=4, max_attempts=3, progress=False
    )
    stream = fleet.map(FaultyStage(**{fault: [13]}), range(40))
    results = list(stream)
    assert [r.index for r in results] == list(range(40))
    bad = results[13]
    assert not bad.ok and bad.error.type == "WorkerDied" and bad.attempts == 3
    assert ("SIGKILL" if fault == "kill_on" else "SIGSEGV") in bad.error.message
    assert all(r.ok and r.value == r.item**2 for r in results if r.index != 13)
    # batch-mates of the poison item ran once more, alone, and succeeded
    assert {r.attempts for r in results if r.index != 13} <= {1, 2}
    assert sum(w.restarts for w in stream.stats.workers) == 3
    assert stream.stats.failed == 1


def test_hanging_item_times_out_and_its_worker_is_replaced():
    fleet = Fleet(
        devices="cpu", replicas=2, workers="process", batch_size=2, item_timeout=1.5,
        progress=False,
    )  # fmt: skip
    stream = fleet.map(FaultyStage(hang_on=[7]), range(20))
    results = list(stream)
    assert [r.index for r in results] == list(range(20))
    assert results[7].error.type == "Timeout"
    assert all(r.ok for r in results if r.index != 7)
    assert sum(w.restarts for w in stream.stats.workers) == 2  # the pair, then the item alone


def test_hanging_thread_worker_is_abandoned_and_replaced():
    fleet = Fleet(devices="cpu", workers="thread", batch_size=1, item_timeout=0.5, progress=False)
    results = list(fleet.map(FaultyStage(hang_on=[2]), range(6)))
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert results[2].error.type == "Timeout"


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_out_of_memory_halves_the_batch_and_completes(library):
    if library == "torch":
        pytest.importorskip("torch")
    stage = MemoryHungryStage(per_item_mb=256, fits=2, library=library)
    fleet = Fleet(devices="cpu", workers="process", batch_size=8, progress=False)
    stream = fleet.map(stage, range(12))
    results = list(stream)
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
    assert [r.value for r in results] == [i + 8.0 for i in range(12)]
    assert stream.stats.workers[0].batch_limit == 2


def test_item_too_big_even_alone_is_an_out_of_memory_error():
    stage = MemoryHungryStage(per_item_mb=1024, fits=0)
    fleet = Fleet(devices="cpu", workers="process", batch_size=4, progress=False)
    results = list(fleet.map(stage, range(3)))
    assert [r.error.type for r in results] == ["OutOfMemory"] * 3
    assert all(r.error.stage == "memory-hungry" for r in results)

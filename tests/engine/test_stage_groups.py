"""Stage groups on pools of their own: the records of the fused pipeline, in order, one per item,
with failures in their places and a bounded hand-over between groups."""

from __future__ import annotations

import time

import pytest
from stages_for_tests import FaultyStage

from docfleet import Fleet
from docfleet.engine.registry import StageGroup
from docfleet.stages.toy import IdentityStage, MatMulStage, SleepStage


def test_two_groups_give_what_the_fused_pipeline_gives(workers: str) -> None:
    fleet = Fleet(devices="cpu", workers=workers, replicas=2, batch_size=3, progress=False)
    fused = [r.value for r in fleet.map([IdentityStage(), MatMulStage()], range(40))]
    groups = [StageGroup([IdentityStage()]), StageGroup([MatMulStage()], replicas=1)]
    results = list(fleet.map(groups, range(40)))
    assert [r.index for r in results] == list(range(40))
    assert [r.item for r in results] == list(range(40))  # the original items
    assert [r.value for r in results] == fused
    assert all(r.ok for r in results)


def test_a_poison_item_in_the_second_group_fails_alone_in_its_place() -> None:
    fleet = Fleet(devices="cpu", workers="thread", batch_size=4, progress=False)
    groups = [StageGroup([IdentityStage()]), StageGroup([FaultyStage(raise_on=[5, 12])])]
    results = list(fleet.map(groups, range(20)))
    assert [r.index for r in results] == list(range(20))
    assert [r.index for r in results if not r.ok] == [5, 12]
    assert "bad item 5" in results[5].error.message
    assert [r.value for r in results if r.ok] == [i * i for i in range(20) if i not in (5, 12)]


def test_a_failure_in_the_first_group_never_reaches_the_second() -> None:
    fleet = Fleet(devices="cpu", workers="thread", batch_size=2, progress=False)
    groups = [StageGroup([FaultyStage(raise_on=[0, 7])]), StageGroup([IdentityStage()])]
    with fleet.map(groups, range(10)) as stream:
        results = list(stream)
        assert stream.streams[1].stats.items == 8  # 0 and 7 stopped in the first group
        assert stream.stats.items == 10 and stream.stats.failed == 2
    assert [r.index for r in results] == list(range(10))
    assert [r.ok for r in results] == [i not in (0, 7) for i in range(10)]
    assert results[7].item == 7 and results[3].value == 9


def test_a_slow_second_group_holds_back_the_first() -> None:
    pulled = []

    def items():
        for i in range(400):
            pulled.append(i)
            yield i

    fleet = Fleet(devices="cpu", workers="thread", batch_size=1, progress=False)
    groups = [StageGroup([IdentityStage()]), StageGroup([SleepStage(seconds=0.02)])]
    with fleet.map(groups, items()) as stream:
        first = next(stream)
        time.sleep(0.5)  # the second group has done about 25 items meanwhile
        read_ahead = len(pulled)
        rest = list(stream)
    assert first.index == 0 and len(rest) == 399
    assert read_ahead < 250  # bounded: the queue between groups and each engine's window


def test_groups_on_their_own_devices_and_workers() -> None:
    fleet = Fleet(devices="cpu", workers="thread", progress=False)
    groups = [StageGroup([IdentityStage()], replicas=2), StageGroup([MatMulStage()], replicas=1)]
    with fleet.map(groups, range(12)) as stream:
        assert len(list(stream)) == 12
        workers = stream.stats.workers
    assert len(workers) == 3  # two replicas for the first group, one for the second
    assert sum(w.items for w in workers) == 24  # each item went through both groups


def test_mixed_specs_are_refused() -> None:
    with pytest.raises(TypeError, match="either stages fused"):
        Fleet(devices="cpu", progress=False).map([StageGroup(["identity"]), "matmul"], range(3))


def test_cpu_groups_share_the_cores() -> None:
    from docfleet.engine.devices import available_cores
    from docfleet.engine.fleet import _cpu_thread_shares
    from docfleet.settings.engine import EngineOptions

    a, b = StageGroup(["identity"], replicas=1), StageGroup(["matmul"], replicas=1)
    shares = _cpu_thread_shares([a, b], EngineOptions(devices="cpu"))
    assert shares[id(a)] == shares[id(b)] == {"cpu_threads": max(1, available_cores() // 2)}
    assert _cpu_thread_shares([a, b], EngineOptions(devices="cpu", cpu_threads=3)) == {}
    gpu = StageGroup(["matmul"], devices="cuda:0")
    assert _cpu_thread_shares([a, gpu], EngineOptions(devices="cpu")) == {}  # one CPU group

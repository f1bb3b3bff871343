"""The local engine's contract: exactly one result per item, in order, bad items isolated."""

from __future__ import annotations

import itertools

import pytest
from stages_for_tests import FaultyStage, UnpicklableOutputStage, WrongLengthStage

from docfleet import EngineError, Fleet
from docfleet.stages.toy import MatMulStage


def serial(stage, items):
    """The plain loop every executor must agree with."""
    stage.load(__import__("docfleet").Device("cpu"))
    return [stage([item])[0] for item in items]


def test_process_thread_and_serial_loop_give_identical_results():
    stage = MatMulStage(size=64, rounds=3, dtype="int64")
    items = list(range(150))
    expected = serial(MatMulStage(size=64, rounds=3, dtype="int64"), items)
    for kind in ("thread", "process"):
        fleet = Fleet(devices="cpu", replicas=2, workers=kind, batch_size=7, progress=False)
        results = list(fleet.map(stage, items))
        assert [r.index for r in results] == items
        assert [r.value for r in results] == expected, kind
        assert all(r.ok and r.attempts == 1 and r.device == "cpu" for r in results)


def test_unordered_results_cover_every_item_once(workers):
    fleet = Fleet(devices="cpu,cpu", workers=workers, batch_size=3, ordered=False, progress=False)
    results = list(fleet.map(FaultyStage(seconds=0.001), range(60)))
    assert sorted(r.index for r in results) == list(range(60))
    assert all(r.value == r.item**2 for r in results)


def test_raising_item_fails_alone_and_its_batch_mates_succeed(workers):
    fleet = Fleet(devices="cpu", replicas=2, workers=workers, batch_size=8, progress=False)
    stream = fleet.map(FaultyStage(raise_on=[5, 17]), range(30))
    results = list(stream)
    failed = [r for r in results if not r.ok]
    assert [r.index for r in failed] == [5, 17]
    assert failed[0].error.type == "ValueError"
    assert failed[0].error.message == "bad item 5"
    assert failed[0].error.stage == "faulty"
    assert "ValueError" in failed[0].error.traceback
    assert all(r.value == r.item**2 for r in results if r.ok)
    assert stream.stats.ok == 28 and stream.stats.failed == 2
    assert sum(w.failed for w in stream.stats.workers) == 2


def test_fused_stages_record_which_stage_failed():
    fleet = Fleet(devices="cpu", workers="thread", batch_size=4, progress=False)
    results = list(fleet.map([FaultyStage(), FaultyStage(raise_on=[4])], range(6)))
    # the second stage sees squares: it fails on 4 = 2 * 2
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert results[3].value == 81
    assert results[2].error.stage == "faulty"


def test_input_is_read_lazily_within_the_in_flight_bound():
    consumed = 0

    def endless():
        nonlocal consumed
        for i in itertools.count():
            consumed = i + 1
            yield i

    fleet = Fleet(devices="cpu", workers="thread", batch_size=4, max_in_flight=40, progress=False)
    with fleet.map("identity", endless()) as stream:
        first = [r.value for r in itertools.islice(stream, 500)]
    assert first == list(range(500))
    assert consumed <= 500 + 40


def test_stop_finishes_batches_in_hand_and_reports_them(workers):
    fleet = Fleet(devices="cpu", replicas=2, workers=workers, batch_size=2, progress=False)
    stream = fleet.map(FaultyStage(seconds=0.01), range(1000))
    seen = []
    for result in stream:
        seen.append(result.index)
        if len(seen) == 10:
            stream.stop()
    assert len(seen) == len(set(seen)) < 1000
    assert seen[:10] == list(range(10))
    assert stream.stats.items == len(seen)
    assert stream.stats.not_run >= 0


def test_unpicklable_output_is_an_error_for_that_item_only():
    fleet = Fleet(devices="cpu", workers="process", batch_size=4, progress=False)
    results = list(fleet.map(UnpicklableOutputStage(), range(8)))
    assert [r.ok for r in results].count(False) == 1
    assert results[3].error.type == "UnpicklableOutput"
    assert [r.value for r in results if r.ok] == [0, 1, 2, 4, 5, 6, 7]


def test_stage_breaking_the_length_contract_gets_a_clear_error():
    fleet = Fleet(devices="cpu", workers="thread", batch_size=4, progress=False)
    results = list(fleet.map(WrongLengthStage(), range(3)))
    assert not any(r.ok for r in results)
    assert results[0].error.type == "StageContractError"
    assert "same length" in results[0].error.message


def test_stage_that_cannot_load_anywhere_stops_the_run_with_its_reason(workers):
    fleet = Fleet(devices="cpu", replicas=2, workers=workers, progress=False)
    with pytest.raises(EngineError, match="model file is missing"):
        list(fleet.map(FaultyStage(fail_load=True), range(5)))


def test_unknown_setting_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid settings: devices"):
        Fleet(device="cpu")

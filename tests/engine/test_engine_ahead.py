"""A first stage marked runs_ahead prepares the next batch while the later stages run."""

from __future__ import annotations

import itertools

from stages_for_tests import AheadStage, ModelStage

from docfleet import Fleet


def test_first_stage_runs_one_batch_ahead_and_overlaps_the_model(workers):
    fleet = Fleet(devices="cpu", workers=workers, batch_size=1, progress=False)
    results = list(fleet.map([AheadStage(), ModelStage()], range(12)))
    assert [r.index for r in results] == list(range(12))
    assert not results[3].ok and results[3].error.stage == "ahead"
    done = [r.value for r in results if r.ok]
    assert [v[0] for v in done] == [i for i in range(12) if i != 3]
    assert {v[1] for v in done} == {"docfleet-ahead"}
    # some batch was prepared while the model ran on the one before it
    overlaps = sum(
        1
        for before, after in itertools.pairwise(done)
        if after[2][0] < before[3][1] and after[2][1] > before[3][0]
    )
    assert overlaps >= len(done) // 2

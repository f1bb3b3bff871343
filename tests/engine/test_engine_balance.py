"""Pull-based dispatch keeps a fast and a slow replica equally busy; a static split cannot."""

from __future__ import annotations

from docfleet import Fleet
from docfleet.stages.toy import SleepStage


def test_fast_replica_takes_more_work_and_both_finish_together(workers):
    stage = SleepStage(seconds=0.01, slow_replica=0, slow_factor=3.0)
    fleet = Fleet(devices="cpu", replicas=2, workers=workers, batch_size=1, progress=False)
    stream = fleet.map(stage, range(120))
    assert sum(r.ok for r in stream) == 120
    slow, fast = stream.stats.workers
    assert (slow.replica, fast.replica) == (0, 1)
    # the fast replica is 3x faster, so it should take about 3/4 of the items (90 of 120);
    # an even static split would give each 60 and leave the fast one idle half the time
    assert 75 <= fast.items <= 100
    assert slow.items + fast.items == 120
    # both stay busy until the end: their busy times differ by a few items at most, where a
    # static split would make the slow one's three times the fast one's
    assert max(slow.busy_seconds, fast.busy_seconds) < 1.3 * min(
        slow.busy_seconds, fast.busy_seconds
    )

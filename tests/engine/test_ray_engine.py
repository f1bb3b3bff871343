"""The Ray engine: same results as the local engine, per-item errors, actors killed for real."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import stages_for_tests  # noqa: E402
from docs_factory import one_column_page, reportlab_pdf, scanned_pdf  # noqa: E402
from stages_for_tests import FaultyStage, PidFileStage  # noqa: E402

from docfleet import Fleet  # noqa: E402
from docfleet.stages.toy import MatMulStage  # noqa: E402

HELPERS = str(Path(stages_for_tests.__file__).parent)  # for Ray's workers to import the stages
TIMING = {"seconds", "device", "attempts"}


def records(out: Path) -> dict[str, dict]:
    lines = (out / "pages.jsonl").read_text().splitlines()
    return {
        r["id"]: {k: v for k, v in r.items() if k not in TIMING} for r in map(json.loads, lines)
    }


def test_docfleet_run_on_ray_writes_what_the_local_engine_writes(cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    reportlab_pdf(src / "report.pdf", [one_column_page(), one_column_page()])
    scanned_pdf(src / "scan.pdf")
    (src / "broken.pdf").write_bytes(b"%PDF-1.7 broken")
    env = {**os.environ, "PYTHONPATH": HELPERS}
    ray_args = ("--engine", "ray", "--no-progress")
    local = cli("run", str(src), "-o", str(tmp_path / "local"), "--devices", "cpu", "--no-progress",
                env=env)  # fmt: skip
    on_ray = cli("run", str(src), "-o", str(tmp_path / "ray"), *ray_args, env=env)
    assert local.returncode == on_ray.returncode == 1, on_ray.stderr
    assert records(tmp_path / "ray") == records(tmp_path / "local")
    failed = [r for r in records(tmp_path / "ray").values() if r["status"] == "error"]
    assert [r["error"]["type"] for r in failed] == ["unreadable"]
    run = json.loads((tmp_path / "ray" / "run.json").read_text())
    assert run["engine"] == "ray" and run["counts"]["ok"] == 3
    again = cli("run", str(src), "-o", str(tmp_path / "ray"), *ray_args, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["counts"]["kept"] == 4
    groups = tmp_path / "groups.yml"  # each group an actor pool of its own: the same pages
    groups.write_text("pipeline:\n  - stages: [render]\n  - stages: [layout, ocr]\n"
                      "    devices: cpu\n    replicas: 1\n  - stages: [assemble]\n")  # fmt: skip
    pinned = cli("run", str(src), "-o", str(tmp_path / "groups"), "--engine", "ray", "--config",
                 str(groups), "--no-progress", env=env)  # fmt: skip
    assert pinned.returncode == 1, pinned.stderr

    def page(record: dict) -> dict:
        return {k: v for k, v in record.items() if k != "settings"}

    assert {k: page(r) for k, r in records(tmp_path / "groups").items()} == {
        k: page(r) for k, r in records(tmp_path / "local").items()}  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": HELPERS}})  # fmt: skip
    yield
    ray.shutdown()


def test_results_match_the_local_engine_in_order(cluster):
    stage = MatMulStage(size=32, rounds=2, dtype="int64")
    local = [
        r.value
        for r in Fleet(devices="cpu", workers="thread", progress=False).map(stage, range(40))
    ]
    results = list(Fleet(engine="ray", batch_size=3, progress=False).map(stage, range(40)))
    assert [r.index for r in results] == list(range(40))
    assert [r.value for r in results] == local


def test_a_raising_item_is_an_error_record_and_never_fails_the_dataset(cluster):
    results = list(
        Fleet(engine="ray", batch_size=4, progress=False).map(FaultyStage(raise_on=[6]), range(20))
    )
    assert [r.index for r in results if not r.ok] == [6]
    assert results[6].error.type == "ValueError" and results[6].error.stage == "faulty"
    assert all(r.value == r.item**2 for r in results if r.ok)


def test_killing_an_actor_mid_run_still_gives_one_result_per_item(cluster, tmp_path):
    stage = PidFileStage(pid_dir=str(tmp_path), seconds=0.05)
    stream = Fleet(engine="ray", batch_size=1, progress=False).map(stage, range(60))
    indices = []
    for result in stream:
        indices.append(result.index)
        if len(indices) == 10:
            os.kill(int(next(tmp_path.iterdir()).name), signal.SIGKILL)
    assert indices == list(range(60))
    assert stream.stats.ok == 60


def test_poison_item_that_kills_its_actor_ends_as_an_error_after_bounded_attempts(cluster):
    fleet = Fleet(engine="ray", batch_size=1, max_attempts=2, progress=False)
    results = list(fleet.map(FaultyStage(kill_on=[3]), range(8)))
    assert [r.index for r in results] == list(range(8))
    assert results[3].error.type == "WorkerDied" and results[3].attempts == 2
    assert all(r.ok for r in results if r.index != 3)


def test_a_hung_item_times_out_alone_and_the_rest_complete(cluster):
    fleet = Fleet(engine="ray", batch_size=3, item_timeout=2.0, progress=False)
    results = list(fleet.map(FaultyStage(hang_on=[4]), range(9)))
    assert [r.index for r in results] == list(range(9))
    assert results[4].error.type == "Timeout" and "2 s" in results[4].error.message
    assert all(r.ok and r.value == r.index**2 for r in results if r.index != 4)


def test_stage_groups_are_actor_pools_of_their_own(cluster):
    """Two groups on Ray give the fused pipeline's records in order; a poison item in the
    second group fails alone in its place and a failure in the first never reaches it."""
    from docfleet.engine.registry import StageGroup

    stage = MatMulStage(size=16, rounds=1, dtype="int64")
    local = [r.value for r in Fleet(devices="cpu", workers="thread", progress=False).map(
        [FaultyStage(raise_on=[3]), stage], range(24))]  # fmt: skip
    groups = [StageGroup([FaultyStage(raise_on=[3])], devices="cpu", replicas=1, batch_size=5),
              StageGroup([stage], devices="cpu", replicas=1, batch_size=2)]  # fmt: skip
    stream = Fleet(engine="ray", devices="cpu", progress=False).map(groups, range(24))
    results = list(stream)
    assert [r.index for r in results] == list(range(24))
    by_group = {w.device.split(" on ")[0]: w.items for w in stream.stats.workers}
    assert by_group == {"faulty": 24, "matmul": 23}  # item 3 failed before the second pool
    assert [r.index for r in results if not r.ok] == [3]
    assert "bad item 3" in results[3].error.message
    assert [r.value for r in results] == local

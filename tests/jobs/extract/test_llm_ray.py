"""`docfleet extract --engine ray`: a whole model copy per Ray actor, the local engine's answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("transformers")

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
VARYING = {"seconds", "device"}


@pytest.fixture
def extract(cli):
    """``extract(model, data, out, *extra)``: ``docfleet extract`` of DATA's notes, offline."""

    def run(model: Path, data: Path, out: Path, *extra: str):
        return cli("extract", "--model", str(model), "--input", str(data), "--id-column", "id",
                   "--prompt", "Who paid? {note}", "--answer-format", "text", "--max-new-tokens",
                   "5", "--no-progress", "-o", str(out), *extra, env=OFFLINE)  # fmt: skip

    return run


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_extract_on_ray_gives_the_local_answers_in_input_order(extract, tiny_llm, tmp_path):
    data = tmp_path / "notes.csv"
    rows = [f"n{i},invoice {i} paid by customer {i * 7}" for i in range(12)]
    data.write_text("id,note\n" + "\n".join(rows) + '\nbad,"broken\n', encoding="utf-8")
    local = extract(tiny_llm, data, tmp_path / "local.jsonl", "--devices", "cpu")
    on_ray = extract(tiny_llm, data, tmp_path / "ray.jsonl", "--engine", "ray")
    assert local.returncode == on_ray.returncode == 1, on_ray.stderr  # the broken row
    assert "a whole copy of the model in each Ray actor" in on_ray.stderr
    ray_lines = lines(tmp_path / "ray.jsonl")
    assert [line["id"] for line in ray_lines[:-1]] == [f"n{i}" for i in range(12)]
    assert ray_lines[-1]["error"]["type"] == "MalformedRow"
    assert [{k: v for k, v in line.items() if k not in VARYING} for line in ray_lines] == [
        {k: v for k, v in line.items() if k not in VARYING}
        for line in lines(tmp_path / "local.jsonl")
    ]
    assert all(line["device"].endswith("/cpu") for line in ray_lines[:-1])  # node/device
    again = extract(tiny_llm, data, tmp_path / "ray.jsonl", "--engine", "ray")  # resumes: all kept
    assert again.returncode == 1 and "kept from before" in again.stderr
    assert len(lines(tmp_path / "ray.jsonl")) == 13


def test_a_split_strategy_on_ray_is_a_usage_error(extract, tiny_llm, tmp_path):
    data = tmp_path / "notes.csv"
    data.write_text("id,note\nn0,paid\n", encoding="utf-8")
    proc = extract(
        tiny_llm, data, tmp_path / "o.jsonl", "--engine", "ray", "--strategy", "balanced"
    )
    assert proc.returncode == 2 and "use --engine local" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()

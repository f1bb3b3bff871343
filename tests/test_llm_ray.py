"""`docfleet extract --engine ray`: a whole model copy per Ray actor, the local engine's answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("transformers")

from llm_factory import tiny_causal_lm

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
VARYING = {"seconds", "device"}


def extract(model: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "docfleet", "extract", "--model", str(model), "--input",
           str(data), "--id-column", "id", "--prompt", "Who paid? {note}", "--answer-format",
           "text", "--max-new-tokens", "5", "--no-progress", "-o", str(out), *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=OFFLINE)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_extract_on_ray_gives_the_local_answers_in_input_order(tmp_path):
    model = tiny_causal_lm(tmp_path / "tiny")
    data = tmp_path / "notes.csv"
    rows = [f"n{i},invoice {i} paid by customer {i * 7}" for i in range(12)]
    data.write_text("id,note\n" + "\n".join(rows) + '\nbad,"broken\n', encoding="utf-8")
    local = extract(model, data, tmp_path / "local.jsonl", "--devices", "cpu")
    on_ray = extract(model, data, tmp_path / "ray.jsonl", "--engine", "ray")
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
    again = extract(model, data, tmp_path / "ray.jsonl", "--engine", "ray")  # resumes: all kept
    assert again.returncode == 1 and "kept from before" in again.stderr
    assert len(lines(tmp_path / "ray.jsonl")) == 13


def test_a_split_strategy_on_ray_is_a_usage_error(tmp_path):
    model = tiny_causal_lm(tmp_path / "tiny")
    data = tmp_path / "notes.csv"
    data.write_text("id,note\nn0,paid\n", encoding="utf-8")
    proc = extract(model, data, tmp_path / "o.jsonl", "--engine", "ray", "--strategy", "balanced")
    assert proc.returncode == 2 and "use --engine local" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()

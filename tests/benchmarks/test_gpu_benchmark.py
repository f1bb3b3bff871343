"""benchmarks/gpu.py runs end to end without a GPU: ``--device cpu`` takes the same plan (both
backends, a replica count, a batch size) through real ``docfleet run`` commands and prints the
table, on a corpus of one real page printed to pixels."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_benchmark_runs_on_the_cpu_as_its_smoke_test(
    tmp_path: Path, scanned_corpus: Callable[..., Path]
) -> None:
    folder = scanned_corpus()
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "gpu.py", "--device", "cpu", "--backend", "both", "--corpus",
         str(folder), "--pages", "1", "--replicas-list", "1", "--batch-sizes", "2",
         "--json", str(out)],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    runs = {r["name"]: r for r in figures["runs"]}
    assert set(runs) == {"torch-c1x1b2", "onnxr-c1x1b2"}
    assert all(r["ok"] and r["pages"] == 1 for r in runs.values()), done.stderr
    f1 = {round(r["words_f1_mean"], 3) for r in runs.values()}
    assert len(f1) == 1 and f1.pop() > 0.9  # the same words from either backend
    for name in runs:
        assert name in done.stdout  # one table row per run

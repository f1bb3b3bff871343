"""benchmarks/ocr_runtimes.py end to end on one real page printed to pixels: each runtime row is
measured or says what to install, and the cascade's arithmetic holds together (reading again
exactly the lines the small recogniser reads differently ends with its words)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr")

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "det_tiny_ort,rec_tiny_ort,rec_tiny_ort_basic,rec_tiny_openvino,rec_small_ort,rec_small_int8_ort"
)


def test_the_runtime_rows_and_the_cascade_arithmetic(
    tmp_path: Path, scanned_corpus: Callable[..., Path]
) -> None:
    folder = scanned_corpus("scanned-hard")
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "ocr_runtimes.py", "--corpus", str(folder), "--set", "hard",
         "--pages", "1", "--only", ROWS, "--json", str(out)],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    rows = figures["rows"]
    assert list(rows) == ROWS.split(",")
    assert figures["pages"] == 1 and figures["lines"] > 10
    assert rows["det_tiny_ort"]["ms_per_page"] > 0 and rows["det_tiny_ort"]["vs_ort"] == 1
    for name in ("rec_tiny_ort", "rec_tiny_ort_basic", "rec_small_int8_ort"):
        assert rows[name]["ms_per_line"] > 0 and rows[name]["ms_per_100px"] > 0
    assert rows["rec_tiny_ort"]["same"] == 1
    assert 0.5 < rows["rec_small_int8_ort"]["same"] < 1  # INT8 against the float recogniser
    assert rows["rec_tiny_ort_basic"]["same"] > 0.9  # the same network, other graph rewrites
    if importlib.util.find_spec("openvino") is None:
        assert "pip install openvino" in rows["rec_tiny_openvino"]["error"]
        assert "pip install openvino" in done.stdout
    else:
        assert rows["rec_tiny_openvino"]["same"] > 0.9
    reading = {r["rule"]: r for r in figures["reading"]}
    tiny, small = reading["tiny alone"], reading["the small recogniser on every line"]
    floor = reading["floor: only the lines read differently"]
    assert tiny["reread"] == 0 and small["reread"] == 1
    assert tiny["s_per_page"] <= floor["s_per_page"] <= small["s_per_page"]
    assert tiny["s_per_page"] < small["s_per_page"]
    assert floor["words_f1_mean"] == small["words_f1_mean"]
    assert 0.8 < tiny["words_f1_mean"] <= 1

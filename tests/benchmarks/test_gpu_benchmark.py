"""benchmarks/gpu.py runs end to end without a GPU: ``--device cpu`` takes the same plan (both
backends, a replica count, batch sizes) through real ``docfleet run`` commands and prints the
table, on a corpus of one real page printed to pixels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from docfleet.documents.pdf import pdf_text_lines, render_pdf_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "tests" / "data" / "real" / "latex-ligatures.pdf"


def corpus(root: Path) -> Path:
    """The layout of benchmarks/scanned_corpus.py's folder: an image-only PDF and its truth."""
    from PIL import Image

    image, _dpi, _ = render_pdf_page(PAGE, 1, dpi=150)
    (root / "scanned").mkdir(parents=True)
    (root / "tiny").mkdir()
    Image.fromarray(image).save(root / "scanned" / "scan-00.pdf", resolution=150)
    Image.new("L", (150, 150), 255).save(root / "tiny" / "tiny.pdf", resolution=150)
    text = " ".join(line.text for line in pdf_text_lines(PAGE, 1))
    row = {"document": "scan-00.pdf", "page": 1, "text": text}
    (root / "truth.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    manifest = {"scanned": {"files": [{"document": "scan-00.pdf"}]}, "tiny": {"pages": 1}}
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


def test_the_gpu_benchmark_runs_on_the_cpu_as_its_smoke_test(tmp_path: Path) -> None:
    folder = corpus(tmp_path / "corpus")
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "gpu.py", "--device", "cpu", "--backend", "both", "--corpus",
         str(folder), "--pages", "1", "--replicas-list", "1", "--batch-sizes", "1,2",
         "--json", str(out)],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    runs = {r["name"]: r for r in figures["runs"]}
    assert set(runs) == {"torch-c1x1b1", "torch-c1x1b2", "onnxr-c1x1b1", "onnxr-c1x1b2"}
    assert all(r["ok"] and r["pages"] == 1 for r in runs.values()), done.stderr
    f1 = {round(r["words_f1_mean"], 3) for r in runs.values()}
    assert len(f1) == 1 and f1.pop() > 0.9  # the same words from either backend
    for name in runs:
        assert name in done.stdout  # one table row per run

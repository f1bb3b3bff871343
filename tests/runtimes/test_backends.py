"""``--backend torch``: the layout and OCR networks in PyTorch give the pages ONNX Runtime gives
(regions and lines within a pixel, the same text), through the whole document pipeline."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("rapid_layout")

from docfleet import Fleet, map_documents
from docfleet.engine.devices import Device
from docfleet.runtimes.ocr.models import resolve_backend


@pytest.fixture(scope="module")
def pdf(real_pdfs: Path) -> Path:
    """Prose, inline code and margin notes, on one page."""
    return real_pdfs / "latex-ligatures.pdf"


def _pages(pdf: Path, backend: str, small: str = "float32") -> list[dict]:
    """The page read with the cascade; its second reader the float small recogniser, the
    network both backends run, unless ``small`` says otherwise."""
    fleet = Fleet(devices="cpu", workers="thread", progress=False)
    stages = {"ocr": {"small_precision": small}}
    results = list(map_documents(fleet, [pdf], ocr="always", backend=backend, stages=stages))
    assert all(r.ok for r in results), [r.error for r in results]
    return [r.value for r in results]


def _close(a: list[float], b: list[float]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1.0


def test_torch_pages_match_onnx_runtime_pages(pdf: Path) -> None:
    ours, theirs = _pages(pdf, "torch"), _pages(pdf, "onnxruntime")
    assert len(ours) == len(theirs) == 1
    page, reference = ours[0], theirs[0]
    assert page["ocr"]["backend"] == "torch" and reference["ocr"]["backend"] == "onnxruntime"
    assert page["ocr"]["small"] == reference["ocr"]["small"] == "float32"
    assert page["text"] == reference["text"] and len(page["text"]) > 500
    blocks, expected = page["blocks"], reference["blocks"]
    assert [b["type"] for b in blocks] == [b["type"] for b in expected]
    assert all(_close(a["bbox"], b["bbox"]) for a, b in zip(blocks, expected, strict=True))


def test_the_cascade_rereads_in_int8_on_onnx_runtime_by_default(pdf: Path) -> None:
    """On a CPU with ONNX Runtime the cascade's second reader is the INT8 recogniser unless
    told otherwise; PyTorch runs the float network."""
    [quantised] = _pages(pdf, "onnxruntime", "auto")
    [plain] = _pages(pdf, "onnxruntime")
    [torch_page] = _pages(pdf, "torch", "auto")
    assert quantised["ocr"]["small"] == "int8" and torch_page["ocr"]["small"] == "float32"
    assert plain["ocr"]["model"] == quantised["ocr"]["model"] == "cascade"
    words, reference = Counter(quantised["text"].split()), Counter(plain["text"].split())
    assert sum((words & reference).values()) >= 0.95 * sum(reference.values())


def test_auto_is_torch_on_cuda_and_onnx_runtime_on_cpu() -> None:
    import torch

    cuda = Device.parse("cuda:1")
    assert resolve_backend("auto", cuda, torch_cuda=True) == "torch"
    assert resolve_backend("auto", cuda, torch_cuda=False) == "onnxruntime"  # onnxruntime-gpu
    here = "torch" if torch.cuda.is_available() else "onnxruntime"
    assert resolve_backend("auto", cuda) == here
    assert resolve_backend("auto", Device.parse("cpu")) == "onnxruntime"
    assert resolve_backend("torch", Device.parse("cpu")) == "torch"
    with pytest.raises(ValueError, match="onnxruntime or torch"):
        resolve_backend("tensorrt", Device.parse("cpu"))


def test_half_precision_is_for_the_torch_backend(pdf: Path) -> None:
    """ONNX Runtime's models stay float32; asking otherwise names the fix (float16 networks on
    the torch backend read as float32 ones do: tests/runtimes/test_torchnets.py). The layout model,
    still loading in the background when OCR refuses, is waited for: a process that ends right
    after the error exits cleanly instead of aborting in native code."""
    import subprocess
    import sys

    code = (
        "from docfleet import EngineError, Fleet, map_documents\n"
        "fleet = Fleet(devices='cpu', workers='thread', progress=False)\n"
        "try:\n"
        f"    list(map_documents(fleet, [{str(pdf)!r}], ocr='always', backend='onnxruntime',\n"
        "                       stages={'ocr': {'dtype': 'float16'}}))\n"
        "except EngineError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "needs the torch backend; add --backend torch" in done.stdout

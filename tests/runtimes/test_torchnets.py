"""The OCR and layout models in PyTorch (docfleet.runtimes.torchnets) against ONNX Runtime, on real
pages: the same probabilities, the same boxes, the same text, batches as pages alone; the converted
graph's disk cache; the GPU and half precision where a GPU is present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr")

import torch

from docfleet.documents.pdf import render_pdf_page
from docfleet.engine.devices import Device
from docfleet.runtimes.ocr.detect import Detector
from docfleet.runtimes.ocr.models import characters_of, model_files, ort_session
from docfleet.runtimes.ocr.recognize import Recognizer, crop_line, padded_width
from docfleet.runtimes.torchnets import TorchSession, torch_layout, torch_session
from docfleet.runtimes.torchnets.cache import file_sha256, load_spec
from docfleet.runtimes.torchnets.spec import GraphSpec, NodeSpec

CPU = Device.parse("cpu")
TIERS = ["tiny", "small"]
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# ONNX Runtime's CPU kernels approximate (its Erf and Sigmoid among them): against the same
# graph run in float64, the tiny detector's map is off by up to 6e-4 under ORT and 2e-5 under
# torch, so the two are compared with that margin; the other models agree to about 1e-4.
TOLERANCE = {"det_tiny": 2e-3, "det_small": 1e-3, "rec_tiny": 1e-3, "rec_small": 1e-3}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Torch on one CPU thread here. Its two OpenMP threads wait for each other at every op, and
    on a machine whose cores are busy with other work (a test run in parallel) that wait took
    2 s per recogniser call, against 0.05 s on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_tf32():
    """Float32 convolutions in float32: on Ampere and later GPUs PyTorch runs them in TF32 (10
    mantissa bits) unless told not to, which is not what ONNX Runtime computes."""
    allowed = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = allowed


def _page(pdf: Path, dpi: float = 100) -> np.ndarray:
    return render_pdf_page(pdf, 1, dpi=dpi)[0]


@pytest.fixture(scope="module")
def page(real_pdfs: Path) -> np.ndarray:
    """Prose, inline code and margin notes: 30 lines of text of every length."""
    return _page(real_pdfs / "latex-ligatures.pdf")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("torchnets-cache")


@pytest.fixture(scope="module")
def models(cache: Path) -> dict[str, tuple[object, TorchSession]]:
    """(ONNX Runtime session, torch session) per model, both on the CPU."""
    found = {}
    for tier in TIERS:
        files = model_files(tier)
        for kind, path in (("det", files.detector), ("rec", files.recogniser)):
            found[f"{kind}_{tier}"] = (ort_session(path, CPU), torch_session(path, cache_dir=cache))
    return found


@pytest.fixture(scope="module")
def lines(page: np.ndarray, models) -> dict[str, list[np.ndarray]]:
    """The page's text lines as ONNX Runtime's detector of each tier finds them."""
    return {t: [crop_line(page, q) for q in Detector(models[f"det_{t}"][0])(page)] for t in TIERS}


def _max_diff(want: list[np.ndarray], got: list[np.ndarray]) -> float:
    assert [w.shape for w in want] == [g.shape for g in got]
    assert all(g.dtype == np.float32 for g in got)
    return max(float(np.abs(w - g).max()) for w, g in zip(want, got, strict=True))


@pytest.mark.parametrize("tier", TIERS)
def test_detector_probabilities_match_onnx_runtime(page, models, tier) -> None:
    reference, session = models[f"det_{tier}"]
    assert session.get_inputs()[0].name == reference.get_inputs()[0].name
    batch = Detector(reference)._prepare(page)[0]
    name = session.get_inputs()[0].name
    want, got = reference.run(None, {name: batch}), session.run(None, {name: batch})
    assert _max_diff(want, got) < TOLERANCE[f"det_{tier}"]


@pytest.mark.parametrize("tier", TIERS)
def test_detector_finds_the_same_boxes(page, models, tier) -> None:
    reference, session = models[f"det_{tier}"]
    want, got = Detector(reference)(page), Detector(session)(page)
    assert len(want) > 20 and want.shape == got.shape
    assert np.abs(want - got).max() <= 1.0


@pytest.mark.parametrize("tier", TIERS)
def test_recogniser_probabilities_match_onnx_runtime(lines, models, tier) -> None:
    reference, session = models[f"rec_{tier}"]
    crops = lines[tier][:8]
    width = max(padded_width(c) for c in crops)  # one batch, as wide as the widest line
    batch = np.stack([_normalise(c, width) for c in crops])
    want, got = reference.run(None, {"x": batch}), session.run(None, {"x": batch})
    assert _max_diff(want, got) < TOLERANCE[f"rec_{tier}"]


@pytest.mark.parametrize("tier", TIERS)
def test_recogniser_reads_the_same_text(lines, models, tier) -> None:
    reference, session = models[f"rec_{tier}"]
    files = model_files(tier)
    chars = characters_of(reference, files)
    assert characters_of(session, files) == chars  # small: from the model's metadata
    crops = lines[tier][:24]  # the page's first 24 lines
    want = Recognizer(reference, chars)(crops)
    got = Recognizer(session, chars)(crops)
    assert [t for t, _ in got] == [t for t, _ in want]
    assert sum(len(t) for t, _ in want) > 500
    assert max(abs(a - b) for (_, a), (_, b) in zip(want, got, strict=True)) < 1e-3


@pytest.mark.parametrize("tier", TIERS)
def test_a_batch_of_lines_reads_as_each_line_alone(lines, models, tier) -> None:
    _, session = models[f"rec_{tier}"]
    chars = characters_of(session, model_files(tier))
    batched, alone = Recognizer(session, chars, batch=8), Recognizer(session, chars, batch=1)
    crops = lines[tier][:16]
    assert max(len(group) for group in batched.batches(crops)) >= 3
    together, one_by_one = batched(crops), alone(crops)
    assert [t for t, _ in together] == [t for t, _ in one_by_one]
    assert [s for _, s in together] == pytest.approx([s for _, s in one_by_one], abs=1e-4)


def test_two_pages_in_one_call_give_what_each_gives_alone(page, models, real_pdfs) -> None:
    _, session = models["det_tiny"]
    other = _page(real_pdfs / "two-column-paper.pdf")
    h, w = min(page.shape[0], other.shape[0]), min(page.shape[1], other.shape[1])
    detector = Detector(session)
    first, second = (detector._prepare(p[:h, :w])[0] for p in (page, other))
    together = session.run(None, {"x": np.concatenate([first, second])})[0]
    for i, alone in enumerate((first, second)):
        assert np.abs(together[i] - session.run(None, {"x": alone})[0][0]).max() < 1e-4
    stacked = detector.detect_many([page[:h, :w], other[:h, :w]], stack=True)
    singles = [detector(page[:h, :w]), detector(other[:h, :w])]
    assert all(np.array_equal(a, b) for a, b in zip(stacked, singles, strict=True))


def test_forward_takes_and_gives_tensors_on_the_device(page, models) -> None:
    reference, session = models["det_tiny"]
    batch = Detector(reference)._prepare(page)[0]
    out = session.forward(torch.from_numpy(batch).to(session.device))
    assert isinstance(out, torch.Tensor) and out.device == session.device
    assert np.abs(out.numpy() - session.run(None, {"x": batch})[0]).max() == 0


@pytest.fixture(scope="module")
def layout_pages(real_pdfs: Path) -> list[np.ndarray]:
    """A page with two tables and paragraphs, and a two-column paper with a title."""
    return [
        _page(real_pdfs / "table-booktabs.pdf"),
        _page(real_pdfs / "two-column-paper.pdf", dpi=80),
    ]


def test_layout_finds_what_rapid_layout_finds(layout_pages, cache) -> None:
    from rapid_layout import RapidLayout

    reference = RapidLayout(conf_thresh=0.5, iou_thresh=0.5)
    layout = torch_layout(cache_dir=cache)
    for image in layout_pages:
        want, got = reference(image), layout(image)
        assert len(want.boxes) >= 3 and got.class_names == want.class_names
        assert np.abs(np.array(got.boxes) - np.array(want.boxes)).max() <= 1.0
        assert np.abs(np.array(got.scores) - np.array(want.scores)).max() < 1e-3


def test_layout_batch_gives_each_page_its_own_regions(layout_pages, cache) -> None:
    layout = torch_layout(cache_dir=cache, conf_thresh=0.4)
    together = layout.many(layout_pages)
    for image, found in zip(layout_pages, together, strict=True):
        alone = layout(image)
        assert found.class_names == alone.class_names
        assert np.abs(np.array(found.boxes) - np.array(alone.boxes)).max() < 1e-2
        assert found.scores == pytest.approx(alone.scores, abs=1e-4)
    assert layout.many([]) == []
    grey = layout(layout_pages[0][:, :, 0])  # one channel: as three equal ones
    assert grey.class_names == layout(np.repeat(layout_pages[0][:, :, :1], 3, axis=2)).class_names


def test_converted_graph_is_cached_and_a_corrupt_cache_is_rebuilt(tmp_path) -> None:
    path = model_files("tiny").recogniser
    cached = tmp_path / f"{file_sha256(path)}.pt"
    first = load_spec(path, tmp_path)
    assert cached.is_file()
    again = load_spec(path, tmp_path)
    assert [n.op for n in again.nodes] == [n.op for n in first.nodes]
    assert all(torch.equal(first.constants[k], again.constants[k]) for k in first.constants)
    cached.write_bytes(cached.read_bytes()[:1000])  # a copy cut short
    rebuilt = load_spec(path, tmp_path)
    assert len(rebuilt.nodes) == len(first.nodes)
    assert load_spec(path, tmp_path).metadata == first.metadata  # and the file is whole again


def test_metadata_and_inputs_are_onnx_runtimes(models) -> None:
    reference, session = models["rec_small"]
    want = reference.get_modelmeta().custom_metadata_map
    assert session.get_modelmeta().custom_metadata_map == want
    assert [i.name for i in session.get_inputs()] == [i.name for i in reference.get_inputs()]
    assert [o.name for o in session.get_outputs()] == [o.name for o in reference.get_outputs()]
    assert session.get_outputs()[0].shape[-1] == reference.get_outputs()[0].shape[-1] == 18710
    with pytest.raises(ValueError, match="missing inputs"):
        session.run(None, {"image": np.zeros((1, 3, 48, 320), np.float32)})


def test_an_unsupported_op_is_named() -> None:
    from docfleet.runtimes.torchnets.module import build_module

    spec = GraphSpec(["x"], ["y"], ["y"], [NodeSpec("Einsum", ["x"], ["y"], {})], {}, {}, 13)
    with pytest.raises(NotImplementedError, match=r"Einsum is not supported.*Conv"):
        build_module(spec)


def test_importing_torchnets_loads_neither_torch_nor_onnx() -> None:
    probe = "import json, sys, docfleet.runtimes.torchnets; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert {"torch", "onnx", "onnxruntime", "cv2"}.isdisjoint(json.loads(out.stdout))


def test_half_precision_reads_the_lines_float32_reads(lines, models, cache) -> None:
    """float16 and bfloat16 networks (the GPU's options) read a page's lines as float32 does,
    but for a character here and there; tested on the CPU on the first 12 lines."""
    _, session = models["rec_tiny"]
    chars = characters_of(session, model_files("tiny"))
    crops = lines["tiny"][:12]
    want = [text for text, _ in Recognizer(session, chars)(crops)]
    for dtype in ("float16", "bfloat16"):
        half = torch_session(model_files("tiny").recogniser, "cpu", dtype, cache_dir=cache)
        got = [text for text, _ in Recognizer(half, chars)(crops)]
        assert sum(a == b for a, b in zip(want, got, strict=True)) >= 0.75 * len(want), dtype


@GPU
@pytest.mark.parametrize("tier", TIERS)
def test_on_the_gpu_lines_read_as_on_the_cpu(lines, models, cache, no_tf32, tier) -> None:
    _, cpu_session = models[f"rec_{tier}"]
    path = model_files(tier).recogniser
    chars = characters_of(cpu_session, model_files(tier))
    want = Recognizer(cpu_session, chars)(lines[tier])
    for dtype in ("float32", "float16"):
        session = torch_session(path, "cuda", dtype, cache_dir=cache)
        assert session.forward(torch.zeros(1, 3, 48, 320, device="cuda")).dtype == getattr(
            torch, dtype
        )
        got = Recognizer(session, chars)(lines[tier])
        same = sum(a == b for (a, _), (b, _) in zip(want, got, strict=True))
        assert same >= (len(want) if dtype == "float32" else 0.9 * len(want))


@GPU
def test_on_the_gpu_boxes_and_regions_are_the_cpus(page, models, layout_pages, cache, no_tf32):
    _, cpu_session = models["det_small"]
    gpu_session = torch_session(model_files("small").detector, "cuda", cache_dir=cache)
    want, got = Detector(cpu_session)(page), Detector(gpu_session)(page)
    assert want.shape == got.shape and np.abs(want - got).max() <= 2.0
    cpu_layout, gpu_layout = torch_layout(cache_dir=cache), torch_layout("cuda", cache_dir=cache)
    for a, b in zip(cpu_layout.many(layout_pages), gpu_layout.many(layout_pages), strict=True):
        assert a.class_names == b.class_names
        assert np.abs(np.array(a.boxes) - np.array(b.boxes)).max() <= 2.0


def _normalise(crop: np.ndarray, width: int) -> np.ndarray:
    from docfleet.runtimes.ocr.recognize import _normalise as normalise

    return normalise(crop, width)


def test_strided_same_padding_and_fixed_batch_reshape_match_onnx_runtime(tmp_path) -> None:
    """What the five models do not exercise: SAME_UPPER padding that depends on the input's
    size (stride 2 on odd sizes), SAME_LOWER, and a Reshape whose batch of 1 is written out."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(size=(4, 2, 3, 3)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 4, -1], np.int64), "shape")
    nodes = [
        helper.make_node(
            "Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"
        ),
        helper.make_node("MaxPool", ["a"], ["b"], kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
        helper.make_node("Identity", ["b"], ["c"]),
        helper.make_node("Reshape", ["c", "shape"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 7, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight, shape],
    )  # fmt: skip
    path = tmp_path / "same.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = rng.normal(size=(1, 2, 7, 9)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    session = torch_session(path, cache=False)
    assert _max_diff(want, session.run(None, {"x": x})) < 1e-5
    two = session.run(None, {"x": np.concatenate([x, x[:, :, ::-1]])})[0]
    assert two.shape == (2, *want[0].shape[1:]) and np.abs(two[0] - want[0][0]).max() < 1e-5


def test_pixels_normalised_on_the_device_are_the_hosts(page, models) -> None:
    """The detector sends a torch session uint8 pages to normalise where the network runs; the
    network sees exactly the input NumPy would have made."""
    from docfleet.runtimes.ocr.detect import normalise

    _, session = models["det_tiny"]
    pixels = Detector(session)._pixels(page)[0]
    assert pixels.dtype == np.uint8 and pixels.shape[-1] == 3
    on_device = session.run_pixels(pixels, mean=0.5, std=0.5)
    on_host = session.run(None, {"x": normalise(pixels)})[0]
    assert np.array_equal(on_device, on_host)


def test_only_each_steps_best_character_comes_back_and_reads_the_same(lines, models) -> None:
    """With a torch session the recogniser normalises crops on the device and takes back each
    step's best character and probability, not the whole table: the same text and confidence
    as decoding the table the session's ``run`` gives."""
    from types import SimpleNamespace

    _, session = models["rec_small"]
    chars = characters_of(session, model_files("small"))
    table_only = SimpleNamespace(run=session.run, get_inputs=session.get_inputs)
    crops = lines["small"][:16]
    on_device = Recognizer(session, chars, batch=8)(crops)
    assert on_device == Recognizer(table_only, chars, batch=8)(crops)
    assert sum(bool(text) for text, _ in on_device) >= 12

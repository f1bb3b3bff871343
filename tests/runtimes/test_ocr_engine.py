"""The OCR engine on a real page printed to pixels and degraded like a scan: every tier reads it,
batches read as lines alone do, the cascade rereads what the tiny model is unsure of."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")

from docfleet.documents.pdf import pdf_text_lines, render_pdf_page
from docfleet.engine.devices import Device
from docfleet.runtimes.ocr.detect import Detector, DetectorSettings
from docfleet.runtimes.ocr.engine import PageOcr
from docfleet.runtimes.ocr.models import characters_of, model_files, ort_session
from docfleet.runtimes.ocr.recognize import Recognizer, crop_line, padded_width

CPU = Device.parse("cpu")


def _f1(found: str, truth: str) -> float:
    a, b = Counter(found.split()), Counter(truth.split())
    return 2 * sum((a & b).values()) / max(1, sum(a.values()) + sum(b.values()))


@pytest.fixture(scope="module")
def scan(real_pdfs) -> tuple[np.ndarray, str]:
    """The page at 200 dpi, blurred a little, with noise and a grey paper; its text layer."""
    import cv2

    page = real_pdfs / "latex-ligatures.pdf"
    image, _dpi, _ = render_pdf_page(page, 1, dpi=200)
    gray = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (0, 0), 0.6)
    noisy = gray.astype(np.float32) * 0.92 + 12 + np.random.default_rng(0).normal(0, 6, gray.shape)
    ok, jpeg = cv2.imencode(".jpg", np.clip(noisy, 0, 255).astype(np.uint8), [95, 70])
    assert ok
    degraded = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2RGB)
    truth = " ".join(line.text for line in pdf_text_lines(page, 1))
    return degraded, truth


@pytest.fixture(scope="module")
def scan_top(scan) -> np.ndarray:
    """The top third of the scanned page: for tests that read it several times."""
    return scan[0][: scan[0].shape[0] // 3]


@pytest.fixture(scope="module")
def engines() -> dict[str, PageOcr]:
    return {m: PageOcr(m, CPU) for m in ("tiny", "small", "cascade")}  # type: ignore[misc]


@pytest.mark.parametrize("model", ["tiny", "small", "cascade"])
def test_every_tier_reads_the_scanned_page(engines, scan, model) -> None:
    image, truth = scan
    lines = engines[model](image)
    text = " ".join(line.text for line in lines)
    assert _f1(text, truth) > 0.9
    assert all(line.quad.shape == (4, 2) for line in lines)
    assert {line.model for line in lines} <= ({"tiny", "small"} if model == "cascade" else {model})
    times = engines[model].times
    assert times.lines == len(lines) and times.detect > 0 and times.recognise > 0


def test_the_cascade_rereads_only_lines_below_its_threshold(scan_top) -> None:
    image = scan_top
    everything = PageOcr("cascade", CPU, cascade_below=1.01)(image)
    assert everything and {line.model for line in everything} == {"small"}
    small = PageOcr("small", CPU, det_max_side=1280)
    tiny_detector = PageOcr("tiny", CPU).detector
    small.detector = tiny_detector  # the same lines, each read by the small recogniser
    assert [ln.text for ln in everything] == [ln.text for ln in small(image)]
    nothing = PageOcr("cascade", CPU, cascade_below=0.0)
    assert {line.model for line in nothing(image)} == {"tiny"}
    assert nothing.times.reread == 0


@pytest.mark.parametrize("tier", ["tiny", "small"])
def test_a_batch_reads_each_line_as_it_reads_alone(scan, tier) -> None:
    image, _ = scan
    files = model_files(tier)
    session = ort_session(files.recogniser, CPU)
    chars = characters_of(session, files)
    assert len(chars) == session.get_outputs()[0].shape[-1]  # blank + dictionary + space
    detector = Detector(ort_session(files.detector, CPU))
    crops = [crop_line(image, q) for q in detector(image)]
    batched = Recognizer(session, chars, batch=16)
    alone = Recognizer(session, chars, batch=1)
    assert any(len(group) > 1 for group in batched.batches(crops))
    assert [t for t, _ in batched(crops)] == [t for t, _ in alone(crops)]


def test_batches_hold_crops_of_one_padded_width() -> None:
    crops = [np.zeros((30, w, 3), np.uint8) for w in (50, 100, 150, 400, 401, 900, 120)]
    rec = Recognizer(_NoSession(), ["blank", "a", " "], batch=3)
    groups = rec.batches(crops)
    assert sorted(i for g in groups for i in g) == list(range(len(crops)))
    for group in groups:
        assert len({padded_width(crops[i]) for i in group}) == 1
        assert len(group) <= 3
    assert padded_width(crops[0]) == padded_width(crops[2]) == 320  # short lines share a width
    assert {0, 1, 2} & set(groups[0]) and len(groups[0]) == 3


def test_detector_input_size_follows_the_page() -> None:
    det = Detector.__new__(Detector)
    det.settings = DetectorSettings(max_side=1280)
    assert det.input_size(2200, 1700) == (1280, 992)  # a 200 dpi letter page: brought down
    # an image under 960 px (a screenshot, a table cropped from a paper) is scaled up, by at
    # most 2x: PubTabNet's table images hold digits 7 px tall that the detector misses as is
    assert det.input_size(200, 300) == (384, 608)
    assert det.input_size(45, 503) == (96, 960)
    assert det.input_size(1000, 800) == (992, 800)  # large enough: as it is
    det.settings = DetectorSettings(max_side=0)  # rapidocr's rule: shorter side at least 736
    assert det.input_size(200, 200) == (736, 736)
    assert det.input_size(2200, 1700) == (2208, 1696)


def test_a_tiny_page_is_read_without_upscaling(engines, scan) -> None:
    image, _ = scan
    lines = engines["small"](image)
    word = max(lines, key=lambda ln: ln.score * len(ln.text))
    x0, y0 = word.quad.min(axis=0).astype(int)
    x1, y1 = word.quad.max(axis=0).astype(int)
    label = np.full((max(200, y1 - y0 + 40), max(200, x1 - x0 + 40), 3), 235, np.uint8)
    label[20 : 20 + y1 - y0, 20 : 20 + x1 - x0] = image[y0:y1, x0:x1]
    read = engines["small"](label)
    assert [ln.text for ln in read] == [word.text]
    assert engines["small"].detector.input_size(*label.shape[:2])[0] <= label.shape[0] + 16


def test_a_blank_image_has_no_lines(engines) -> None:
    assert engines["cascade"](np.full((400, 300, 3), 255, np.uint8)) == []
    assert engines["tiny"](np.full((4, 4, 3), 255, np.uint8)) == []


def test_unknown_tier_is_named() -> None:
    with pytest.raises(ValueError, match="use tiny, small or cascade"):
        PageOcr("huge", CPU)  # type: ignore[arg-type]


class _NoSession:
    def get_inputs(self) -> list[object]:
        return [type("Input", (), {"name": "x"})()]


def test_pages_read_together_read_as_each_alone(engines, scan) -> None:
    image, _ = scan
    half = image[: image.shape[0] // 2].copy()
    engine = engines["tiny"]
    alone = [[ln.text for ln in engine(im)] for im in (image, half, image)]
    engine.stack_pages = True  # as on a GPU: pages of one input size detected in one batch
    try:
        together = engine.read_pages([image, half, image])
    finally:
        engine.stack_pages = False
    assert [[ln.text for ln in page] for page in together] == alone
    assert engine.times.lines == sum(len(page) for page in alone)


def test_the_torch_backend_reads_what_onnx_runtime_reads(engines, scan) -> None:
    """The same networks in PyTorch: every line's box within a pixel, the same text."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    image, _truth = scan
    on_torch = PageOcr("cascade", CPU, backend="torch")
    ours, theirs = on_torch(image), engines["cascade"](image)
    assert len(ours) == len(theirs) > 20
    assert [line.text for line in ours] == [line.text for line in theirs]
    gaps = [float(np.abs(a.quad - b.quad).max()) for a, b in zip(ours, theirs, strict=True)]
    assert max(gaps) <= 1.0
    assert [line.model for line in ours] == [line.model for line in theirs]


def test_pages_of_near_sizes_share_a_batch_only_when_asked(scan) -> None:
    """With ``det_pad_slack`` (a GPU option), a Letter page and a narrower A4-like one go
    through the detector in one batch, the smaller padded with white: the wider page's boxes
    are its own, the padded one's move by a few input pixels and read nearly the same words.
    By default only pages of one input size are stacked."""
    from docfleet.runtimes.ocr.detect import size_buckets

    image, _ = scan
    narrow = image[:, : int(image.shape[1] * 0.92)].copy()
    engine = PageOcr("tiny", CPU, det_pad_slack=0.25)
    detector = engine.detector
    shapes = {i: detector.input_size(*im.shape[:2]) for i, im in enumerate((image, narrow))}
    assert size_buckets(shapes) == [[0], [1]] and size_buckets(shapes, 0.25) == [[0, 1]]
    stacked = detector.detect_many([image, narrow], stack=True)
    scale = image.shape[0] / shapes[0][0]  # page pixels per input pixel
    for boxes, page, most in zip(stacked, (image, narrow), (0.0, 4 * scale), strict=True):
        alone = detector(page)
        assert boxes.shape == alone.shape and np.abs(boxes - alone).max() <= most + 1.0
    alone_text = [" ".join(ln.text for ln in engine(im)) for im in (image, narrow)]
    engine.stack_pages = True
    together = [" ".join(ln.text for ln in page) for page in engine.read_pages([image, narrow])]
    assert together[0] == alone_text[0]
    assert _f1(together[1], alone_text[1]) > 0.97


def test_a_pad_tolerance_fills_recognition_batches_and_keeps_the_words(engines, scan) -> None:
    """The GPU's setting: lines up to 32 px narrower share a batch, padded; far fewer batches
    on a page's lines, nearly every line read as alone and the same words F1 against truth."""
    image, truth = scan
    exact = engines["small"].recogniser
    padded = Recognizer(exact.session, exact.characters, batch=32, pad_tolerance=32)
    crops = [crop_line(image, q) for q in engines["small"].detector(image)]
    alone = Recognizer(exact.session, exact.characters, batch=32)
    assert len(padded.batches(crops)) * 2 <= len(alone.batches(crops))
    ours, theirs = padded(crops), alone(crops)
    assert sum(a[0] == b[0] for a, b in zip(ours, theirs, strict=True)) >= 0.9 * len(crops)
    f1 = _f1(" ".join(t for t, _ in ours), truth), _f1(" ".join(t for t, _ in theirs), truth)
    assert abs(f1[0] - f1[1]) <= 0.01


def test_span_rereading_reads_again_only_the_unsure_words(engines, scan) -> None:
    image, truth = scan
    every = PageOcr("cascade", CPU, reread="span", span_below=1.01)  # every word is unsure...
    lines = every(image)
    assert _f1(" ".join(line.text for line in lines), truth) > 0.9
    again = [line for line in lines if line.model == "tiny+small"]
    assert every.times.reread == len(again) > len(lines) / 2 and every.times.second_pass > 0
    from docfleet.runtimes.ocr.spans import word_key

    first = engines["tiny"](image)  # the tiny reading the cascade started from, line for line
    seen = Counter(word_key(w) for line in first for w in line.text.split())
    for line, tiny in zip(lines, first, strict=True):  # ...but not those the page reads often
        if line.model == "tiny":
            assert all(seen[word_key(w)] > 1 for w in tiny.text.split()), tiny.text
    none = PageOcr("cascade", CPU, reread="span", span_below=0.0)
    assert {line.model for line in none(image)} == {"tiny"} and none.times.reread == 0


def test_a_reading_places_its_characters_along_the_crop(engines, scan) -> None:
    image, _ = scan
    engine = engines["tiny"]
    quads = engine.detector.detect_many([image], stack=False)[0]
    crops = [crop_line(image, q) for q in quads[:12]]
    for crop, reading in zip(crops, engine.recogniser.read(crops), strict=True):
        assert len(reading.xs) == len(reading.probs) == len(reading.text)
        assert list(reading.xs) == sorted(reading.xs)
        assert all(0 <= x <= crop.shape[1] for x in reading.xs)
        assert abs(reading.score - np.mean(reading.probs)) < 1e-4


def test_a_word_cut_from_its_line_reads_as_it_does_in_the_line(engines, scan) -> None:
    from docfleet.runtimes.ocr.spans import inside, span_crop, word_spans

    image, _ = scan
    tiny, small = engines["tiny"], engines["small"].recogniser
    quads = tiny.detector.detect_many([image], stack=False)[0]
    crops = [crop_line(image, q) for q in quads[:10]]
    cuts, words = [], []
    for crop, r, whole in zip(crops, tiny.recogniser.read(crops), small.read(crops), strict=True):
        if len(r.text.split()) == len(whole.text.split()):  # the words line up, one for one
            cuts += [span_crop(crop, span) for span in word_spans(r, crop.shape[1])]
            words += whole.text.split()
    assert len(cuts) >= 40
    for piece, x0, x1 in cuts:  # the word and the line around it, 320 px at 48 px high
        assert 0 <= x0 < x1 <= piece.shape[1] + 1e-6
    read = small.read([piece for piece, _, _ in cuts])
    alone = [inside(r, x0, x1).text for r, (_, x0, x1) in zip(read, cuts, strict=True)]
    assert sum(a == w for a, w in zip(alone, words, strict=True)) >= 0.85 * len(words)


def test_the_int8_small_recogniser_reads_as_the_float_one_mostly(engines, scan) -> None:
    """The shipped INT8 recogniser is quantised (integer weights, a smaller file), keeps the
    float model's characters, and reads the page's lines much as the float model does."""
    image, truth = scan
    files = model_files("small", int8=True)
    float_files = model_files("small")
    assert files.recogniser != float_files.recogniser
    assert files.recogniser.stat().st_size < 0.75 * float_files.recogniser.stat().st_size
    int8 = PageOcr("small", CPU, small_int8=True)
    int8.detector = engines["small"].detector
    plain = [line.text for line in engines["small"](image)]
    quantised = [line.text for line in int8(image)]
    assert len(quantised) == len(plain)
    # they differ mostly by a space either way ("anchors \\captionsetup", "fi gure")
    assert sum(a == b for a, b in zip(plain, quantised, strict=True)) >= 0.6 * len(plain)
    assert _f1(" ".join(quantised), truth) >= _f1(" ".join(plain), truth) - 0.03
    assert _f1(" ".join(quantised), truth) > 0.85
    session = int8.recogniser.session
    assert characters_of(session, files) == engines["small"].recogniser.characters
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(files.recogniser), load_external_data=False)
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) > 30  # the convolutions' weights, per channel


def test_the_cascade_rereads_with_the_int8_recogniser(scan_top) -> None:
    image = scan_top
    cascade = PageOcr("cascade", CPU, cascade_below=1.01, small_int8=True)
    assert cascade.second is not None
    path = cascade.second.session._model_path  # which file ONNX Runtime loaded
    assert path == str(model_files("small", int8=True).recogniser)
    lines = cascade(image)
    assert lines and {line.model for line in lines} == {"small"}
    assert cascade.times.reread == len(lines)


def test_int8_is_refused_off_the_cpu_with_the_setting_to_use() -> None:
    with pytest.raises(ValueError, match="small_precision=float32"):
        PageOcr("cascade", Device.parse("cuda:0"), small_int8=True)
    with pytest.raises(ValueError, match="small_precision=float32"):
        PageOcr("cascade", CPU, backend="torch", small_int8=True)
    with pytest.raises(ValueError, match="only the small recogniser"):
        model_files("tiny", int8=True)

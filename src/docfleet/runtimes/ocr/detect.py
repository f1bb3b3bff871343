"""Text line detection: the page scaled to the detector's input size, DB boxes back in page pixels.

rapidocr scales every page so that its *shorter* side is at least 736 px and detects a large page
at full size. Here the input size is chosen from the page: its longer side is brought down to
``max_side`` (1280 by default: text of a page rendered at 150-200 dpi stays 12 px tall or more,
which the DB detector finds as well as at full size, for about half the pixels). An image
whose longer side is under ``SMALL_IMAGE`` (a screenshot, a table cut from a paper) is scaled
up towards it, by at most ``MAX_UPSCALE``: on PubTabNet's table images (240-500 px wide) digits
7 px tall are missed as they are and found at twice the size (table TEDS 0.90 -> 0.93).
``max_side=0`` keeps rapidocr's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RAPIDOCR_MIN_SIDE = 736
SMALL_IMAGE = 960  # an image whose longer side is below this is scaled up to it for detection
MAX_UPSCALE = 2.0  # by at most this factor
MIN_INPUT = 64  # the network halves its input five times; tiny pages are padded up to this


@dataclass(frozen=True)
class DetectorSettings:
    """The DB post-processing rapidocr uses for PP-OCRv6, and the input size rule."""

    max_side: int = 1280
    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    #: With stacked pages, pages of other sizes share a forward pass when padding them to the
    #: largest (with white, below and right) adds at most this share to the smallest one's
    #: pixels (0.25: A4 and Letter pages go together, landscape and portrait ones do not). 0,
    #: the default, stacks only pages of one input size: the network sees a padded page's white
    #: margin, which moves its boxes by a few input pixels and may change a word here and there.
    pad_slack: float = 0.0


class Detector:
    """Finds text lines on an RGB page; returns quadrilaterals (N, 4, 2) in page pixels."""

    def __init__(self, session: Any, settings: DetectorSettings | None = None):
        from rapidocr.ch_ppocr_det.utils import DBPostProcess

        self.session = session
        self.settings = settings or DetectorSettings()
        s = self.settings
        self.post = DBPostProcess(
            thresh=s.thresh, box_thresh=s.box_thresh, max_candidates=s.max_candidates,
            unclip_ratio=s.unclip_ratio, score_mode="fast", use_dilation=True,
        )  # fmt: skip
        self.input_name = session.get_inputs()[0].name

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) the page is resized to: multiples of 32, at least 32."""
        side = self.settings.max_side
        if side <= 0:  # rapidocr's rule: the shorter side at least 736 px
            short = min(height, width)
            ratio = RAPIDOCR_MIN_SIDE / short if short < RAPIDOCR_MIN_SIDE else 1.0
        else:
            longer = max(height, width)
            ratio = min(1.0, side / longer)
            if longer < SMALL_IMAGE:  # a screenshot or a crop: its text is a few pixels tall
                ratio = min(SMALL_IMAGE / longer, MAX_UPSCALE, side / longer)
        return (
            max(32, round(int(height * ratio) / 32) * 32),
            max(32, round(int(width * ratio) / 32) * 32),
        )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.detect_many([image])[0]

    def detect_many(self, images: list[np.ndarray], *, stack: bool = False) -> list[np.ndarray]:
        """Boxes of each page. With ``stack``, pages of one input size (or of sizes within the
        settings' ``pad_slack``, padded with white to the largest) go through the network
        together (a GPU gains from the batch; a CPU does not, and holds the batch in memory)."""
        empty = np.zeros((0, 4, 2), np.float32)
        out = [empty] * len(images)
        prepared = {i: self._pixels(im) for i, im in enumerate(images) if min(im.shape[:2]) >= 8}
        shapes = {i: t.shape[1:3] for i, (t, _) in prepared.items()}
        groups = size_buckets(shapes, self.settings.pad_slack) if stack else [[i] for i in shapes]
        on_device = getattr(self.session, "run_pixels", None)
        for group in groups:
            height = max(prepared[i][0].shape[1] for i in group)
            width = max(prepared[i][0].shape[2] for i in group)
            pixels = np.concatenate([_pad_to(prepared[i][0], height, width) for i in group])
            if on_device is not None:  # normalised where the network runs: a quarter the bytes
                pred = on_device(pixels, mean=0.5, std=0.5)
            else:
                pred = self.session.run(None, {self.input_name: normalise(pixels)})[0]
            for j, i in enumerate(group):
                in_h, in_w = prepared[i][1]
                boxes, _scores = self.post(pred[j : j + 1, :, :in_h, :in_w], images[i].shape[:2])
                if len(boxes):
                    out[i] = sort_boxes(np.asarray(boxes, dtype=np.float32))
        return out

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The network's input for a page (1, 3, H, W), and the part of it the page fills."""
        pixels, size = self._pixels(image)
        return normalise(pixels), size

    def _pixels(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The page resized to the input size, (1, H, W, 3) uint8, padded with white below and
        right up to ``MIN_INPUT``; and the part of it the page fills."""
        import cv2

        in_h, in_w = self.input_size(*image.shape[:2])
        resized = cv2.resize(image, (in_w, in_h))[np.newaxis]
        return _pad_to(resized, max(in_h, MIN_INPUT), max(in_w, MIN_INPUT)), (in_h, in_w)


def normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 pages (N, H, W, 3) as the detector's input (N, 3, H, W): ``(x / 255 - 0.5) / 0.5``
    (white is 1)."""
    scaled = (pixels.astype(np.float32) / 255.0 - 0.5) / 0.5
    return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))


def size_buckets(shapes: dict[int, tuple[int, ...]], slack: float = 0.0) -> list[list[int]]:
    """Pages (by key) grouped so that padding each group's pages to its largest height and
    width adds at most ``slack`` to the pixels of its smallest page; largest pages first.

    >>> size_buckets({0: (1280, 896), 1: (1280, 992), 2: (896, 1280), 3: (1280, 896)}, 0.25)
    [[1, 0, 3], [2]]
    >>> size_buckets({0: (1280, 896), 1: (1280, 992), 2: (896, 1280), 3: (1280, 896)})
    [[1], [0, 3], [2]]
    """
    order = sorted(shapes, key=lambda k: (-shapes[k][0] * shapes[k][1], k))
    groups: list[tuple[list[int], int, int, int]] = []  # keys, height, width, smallest area
    for key in order:
        h, w = shapes[key][:2]
        for n, (keys, gh, gw, least) in enumerate(groups):
            padded = max(gh, h) * max(gw, w)
            if padded <= (1 + slack) * min(least, h * w):
                groups[n] = ([*keys, key], max(gh, h), max(gw, w), min(least, h * w))
                break
        else:
            groups.append(([key], h, w, h * w))
    return [keys for keys, *_ in groups]


def _pad_to(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """``pixels`` (N, h, w, 3) padded with white below and right to ``height`` x ``width``."""
    pad_h, pad_w = height - pixels.shape[1], width - pixels.shape[2]
    if not pad_h and not pad_w:
        return pixels
    return np.pad(pixels, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=255)


def sort_boxes(boxes: np.ndarray, same_row: float = 10.0) -> np.ndarray:
    """Top to bottom, and left to right within a row (tops less than ``same_row`` px apart), as
    rapidocr orders them."""
    order = np.argsort(boxes[:, 0, 1], kind="stable")
    boxes = boxes[order]
    rows = np.concatenate([[0], np.cumsum(np.diff(boxes[:, 0, 1]) >= same_row)])
    return boxes[np.lexsort((boxes[:, 0, 0], rows))]

"""Text line recognition: crops 48 px tall, batched only with crops of the same padded width.

PP-OCR recognisers read a crop resized to 48 px high and padded on the right to at least 320 px
(a 6.67:1 box). rapidocr batches lines of different widths and pads them all to the widest,
which changes what SVTR-style models read on the narrower ones. Here a batch only holds crops
whose padded widths differ by at most ``pad_tolerance`` px (0: exactly equal), so a line reads
the same in a batch as alone: every line shorter than the 320 px minimum shares one width, and
longer lines are grouped by width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

HEIGHT = 48
MIN_WIDTH = 320


def crop_line(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line under ``quad`` (4 points, clockwise from top-left) straightened; a crop 1.5 times
    taller than wide (vertical text) is turned to run left to right, as PaddleOCR does."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    return get_rotate_crop_image(image, quad.astype(np.float32).copy())


def padded_width(crop: np.ndarray) -> int:
    """The width ``crop`` is padded to when recognised alone."""
    h, w = crop.shape[:2]
    return int(HEIGHT * max(w / max(h, 1), MIN_WIDTH / HEIGHT))


@dataclass
class Reading:
    """What a recogniser read in a crop: its text and confidence (the mean probability of the
    characters read, 0 for an empty line); and, per character, its probability and the x in
    the crop (pixels) of the time step that read it."""

    text: str
    score: float
    probs: tuple[float, ...] = ()
    xs: tuple[float, ...] = ()


class Recognizer:
    """Reads crops into ``(text, confidence)``, confidence being the mean probability of the
    characters read (0 for an empty line); :meth:`read` also gives where each character is."""

    def __init__(
        self, session: Any, characters: list[str], *, batch: int = 8, pad_tolerance: int = 0
    ):
        self.session = session
        self.characters = characters
        self.batch = max(1, batch)
        self.pad_tolerance = pad_tolerance
        self.input_name = session.get_inputs()[0].name

    def __call__(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        return [(r.text, r.score) for r in self.read(crops)]

    def read(self, crops: list[np.ndarray]) -> list[Reading]:
        """Each crop's :class:`Reading`."""
        out: list[Reading] = [Reading("", 0.0)] * len(crops)
        on_device = getattr(self.session, "argmax_pixels", None)
        for group in self.batches(crops):
            width = max(padded_width(crops[i]) for i in group)
            if on_device is not None:  # only each step's best character comes back
                shaped = [_resized(crops[i], width) for i in group]
                pixels = np.stack([pixels for pixels, _ in shaped])
                index, best = on_device(pixels, mean=0.5, std=0.5, widths=[w for _, w in shaped])
                for k, i in enumerate(group):
                    out[i] = self.located(index[k], best[k], crops[i], width)
                continue
            tensor = np.stack([_normalise(crops[i], width) for i in group])
            probs = self.session.run(None, {self.input_name: tensor})[0]
            for i, row in zip(group, probs, strict=True):
                out[i] = self.located(row.argmax(axis=1), row.max(axis=1), crops[i], width)
        return out

    def located(self, index: np.ndarray, best: np.ndarray, crop: np.ndarray, width: int) -> Reading:
        """CTC greedy decoding of each step's best character (``index``) and its probability
        (``best``): repeats merged, blanks (index 0) dropped; with each character's
        probability and x in ``crop`` (a time step spans ``width / steps`` pixels of the
        input, which holds the crop resized to ``HEIGHT`` pixels high)."""
        keep = np.ones(len(index), dtype=bool)
        keep[1:] = index[1:] != index[:-1]
        keep &= index != 0
        if not keep.any():
            return Reading("", 0.0)
        text = "".join(self.characters[i] for i in index[keep])
        score = float(round(float(best[keep].mean()), 5))
        scale = max(crop.shape[0], 1) / HEIGHT  # input pixels to crop pixels
        step = width / len(index)
        xs = tuple(float((t + 0.5) * step * scale) for t in np.flatnonzero(keep))
        return Reading(text, score, tuple(float(p) for p in best[keep]), xs)

    def batches(self, crops: list[np.ndarray]) -> list[list[int]]:
        """Indices of crops in batches of at most ``batch``, by padded width."""
        widths = [padded_width(c) for c in crops]
        order = sorted(range(len(crops)), key=widths.__getitem__)
        groups: list[list[int]] = []
        for i in order:
            last = groups[-1] if groups else None
            if (
                last is not None
                and len(last) < self.batch
                and widths[i] - widths[last[0]] <= self.pad_tolerance
            ):
                last.append(i)
            else:
                groups.append([i])
        return groups


def _resized(crop: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """(48, width, 3) uint8: the crop resized to 48 px high (keeping its aspect, at most
    ``width`` wide), zeros on its right; and the width the crop fills."""
    import cv2

    h, w = crop.shape[:2]
    resized_w = max(1, min(width, math.ceil(HEIGHT * w / max(h, 1))))
    out = np.zeros((HEIGHT, width, 3), dtype=np.uint8)
    out[:, :resized_w] = cv2.resize(crop, (resized_w, HEIGHT))
    return out, resized_w


def _normalise(crop: np.ndarray, width: int) -> np.ndarray:
    """(3, 48, width) float32 in [-1, 1]: the crop resized to 48 px high (keeping its aspect,
    at most ``width`` wide) and zero-padded on the right."""
    pixels, filled = _resized(crop, width)
    out = np.zeros((3, HEIGHT, width), dtype=np.float32)
    scaled = pixels[:, :filled].astype(np.float32).transpose(2, 0, 1)
    out[:, :, :filled] = (scaled / 255.0 - 0.5) / 0.5
    return out

"""What a line's ink says on a page image, for OCR lines (which carry no font and whose boxes
are padded unevenly): bold lines, and the baseline the letters stand on.

The width of a stroke is the mean run of dark pixels along the rows of the line's box; a line
whose strokes are clearly wider than the page's usual lines is bold. The baseline is the
lowest row of the band where most of the line's ink is (descenders, below it, are thin)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from statistics import median
from typing import Any

from docfleet.page.types import TextLine

BAND = 0.4  # a row with this share of the densest row's ink is in the letters' main band
BOLD_RATIO = 1.3  # stroke width over the page's median at which a line is bold
MIN_CHARS = 6  # lines shorter than this do not set the page's median


def stroke_width(gray: Any, box: tuple[float, float, float, float], dark: float) -> float:
    """Mean run of pixels darker than ``dark`` along the rows of ``box`` in ``gray`` (gray or
    colour pixels; 0 when the box holds no ink)."""
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    crop = gray[y0 : int(box[3]) + 1, x0 : int(box[2]) + 1]
    if crop.ndim == 3:  # colour pixels: the green channel stands for the gray
        crop = crop[..., 1]
    crop = crop < dark
    if crop.size == 0:
        return 0.0
    starts = int(crop[:, 0].sum()) + int((crop[:, 1:] & ~crop[:, :-1]).sum())
    return float(crop.sum()) / starts if starts else 0.0


def mark_bold(lines: Sequence[TextLine], image: Any) -> list[TextLine]:
    """``lines`` with ``bold`` set where their strokes are ``BOLD_RATIO`` times the width of the
    page's usual line (the median over lines of ``MIN_CHARS`` characters or more)."""
    import numpy as np

    if not lines or image is None:
        return list(lines)
    gray = np.asarray(image)
    dark = _dark(gray)
    widths = [stroke_width(gray, line.bbox, dark) for line in lines]
    usual = [w for w, line in zip(widths, lines, strict=True) if len(line.text) >= MIN_CHARS]
    if not usual:
        return list(lines)
    base = median(usual)
    return [
        replace(line, bold=True) if base and w >= BOLD_RATIO * base else line
        for w, line in zip(widths, lines, strict=True)
    ]


def baseline(gray: Any, box: tuple[float, float, float, float], dark: float) -> float | None:
    """The y (page pixels) of the bottom of the band of rows of ``box`` that holds the line's
    letters: rows with ``BAND`` of the ink of the densest row of the box's middle half, the run
    of them nearest the box's centre (an OCR box, padded, takes in the edges of the lines
    above and below); None when the box holds no ink."""
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    crop = gray[y0 : int(box[3]) + 1, x0 : int(box[2]) + 1]
    if crop.ndim == 3:
        crop = crop[..., 1]
    if crop.size == 0:
        return None
    ink = (crop < dark).sum(axis=1).tolist()
    quarter = len(ink) // 4
    top = max(ink[quarter : len(ink) - quarter] or ink)
    if top == 0:
        return None
    bands: list[tuple[int, int]] = []  # runs of dense rows, first and last (a gap of a few
    gap = max(2, len(ink) // 8)  # rows, a letter's counter between its strokes, within one)
    for i, n in enumerate(ink):
        if n >= BAND * top:
            if bands and bands[-1][1] >= i - gap:
                bands[-1] = (bands[-1][0], i)
            else:
                bands.append((i, i))
    middle = (len(ink) - 1) / 2
    _, last = min(bands, key=lambda b: max(b[0] - middle, middle - b[1], 0))
    return float(y0 + last + 1)


def mark_baselines(lines: Sequence[TextLine], image: Any) -> list[TextLine]:
    """``lines`` with ``baseline`` read from the pixels of ``image``."""
    import numpy as np

    if not lines or image is None:
        return list(lines)
    gray = np.asarray(image)
    dark = _dark(gray)
    return [replace(line, baseline=baseline(gray, line.bbox, dark)) for line in lines]


def _dark(gray: Any) -> float:
    """Midway between the page's ink and its paper."""
    import numpy as np

    sample = gray[::4, ::4]
    if sample.ndim == 3:
        sample = sample[..., 1]
    return (float(np.percentile(sample, 1)) + float(np.percentile(sample, 99))) / 2

"""Straightening scanned pages: a page fed or photographed a degree or two askew has lines that
climb across it, so a line's left end sits beside the next line's right end and reading order,
paragraphs and columns come out shuffled (measured on the hard scans: docfleet's character
error rate in reading order 43% against 13% for tesseract, which straightens pages itself).

:func:`skew_angle` finds the tilt from the ink alone, in tens of milliseconds: the ink of a
page downscaled to about 50 dpi is projected onto rows at each candidate angle, and the angle
whose rows are sharpest (text lines and the gaps between them, not smeared across each other)
wins, if it beats the page as scanned clearly (a drawing or a table's rules can make some
angle win by a hair on a straight page); :func:`straighten` turns the page back by it.
"""

from __future__ import annotations

import math

import numpy as np

#: Tilts looked for, either way (degrees): a sheet fed askew or a phone held a little off.
MAX_ANGLE = 5.0
#: Tilts smaller than this are left alone (degrees): a line 8 inches long climbs 0.04 inch,
#: under half a line gap, and resampling would blur the characters for nothing.
MIN_ANGLE = 0.3
#: How much sharper the rows must be at the tilt found than as scanned for the page to be
#: turned (1.03: 3%). Measured at 50 dpi: pages tilted 1-2 degrees 1.04-1.85 (the lowest, a
#: page 40% figure); straight born-digital pages where some other angle won by chance (a
#: drawing, a table's rules) 1.00-1.02.
MIN_GAIN = 1.03
_WORK_DPI = 50.0
_INK_BELOW_PAPER = 48


def _ink_points(image: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The x and y (in the page's pixels) of the ink of the page seen at about 50 dpi, and the
    scale of that view."""
    import cv2

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, _WORK_DPI / max(dpi, 1.0))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    paper = float(np.percentile(small[::2, ::2], 90))
    ys, xs = np.nonzero(small < paper - _INK_BELOW_PAPER * 0.5)
    return xs.astype(np.float32), ys.astype(np.float32), scale


def _sharpness(xs: np.ndarray, ys: np.ndarray, degrees: float, rows: int) -> float:
    """How sharply the ink falls into rows when the page is turned back by ``degrees``."""
    theta = math.radians(degrees)
    turned = ys * math.cos(theta) - xs * math.sin(theta)
    counts = np.bincount((turned - turned.min()).astype(np.int64), minlength=rows)
    return float(np.square(counts.astype(np.float64)).sum())


def skew_angle(image: np.ndarray, dpi: float) -> float:
    """The page's tilt in degrees, counter-clockwise positive (as ``PIL.Image.rotate`` turns):
    0.0 for a page without enough ink to tell or tilted less than :data:`MIN_ANGLE`.

    >>> page = np.full((400, 600), 255, np.uint8)
    >>> for y in range(60, 360, 24):  # lines of text as dark bars, climbing to the right
    ...     for x in range(40, 560):
    ...         page[int(y - 0.035 * (x - 40)):int(y - 0.035 * (x - 40)) + 8, x] = 0
    >>> round(skew_angle(page, 50), 1)
    2.0
    >>> skew_angle(np.full((400, 600), 255, np.uint8), 50)
    0.0
    """
    xs, ys, _scale = _ink_points(image, dpi)
    if xs.size < 200:
        return 0.0
    rows = int(math.hypot(*image.shape[:2])) + 2

    def best(candidates: np.ndarray) -> tuple[float, float]:
        scores = [_sharpness(xs, ys, float(a), rows) for a in candidates]
        k = int(np.argmax(scores))
        return float(candidates[k]), scores[k]

    coarse, _ = best(np.arange(-MAX_ANGLE, MAX_ANGLE + 1e-9, 0.5))
    fine, sharpest = best(np.arange(coarse - 0.5, coarse + 0.5 + 1e-9, 0.05))
    # ink rows climbing to the right are a counter-clockwise tilt; y grows downwards
    angle = round(-fine, 2)
    if abs(angle) < MIN_ANGLE or sharpest < MIN_GAIN * _sharpness(xs, ys, 0.0, rows):
        return 0.0
    return angle


def straighten(image: np.ndarray, angle: float) -> np.ndarray:
    """``image`` turned back by ``angle`` degrees (see :func:`skew_angle`) about its centre,
    the same size, what comes in at the corners filled with the page's paper colour."""
    import cv2

    if not angle:
        return image
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), -angle, 1.0)
    sample = image[::8, ::8].reshape(-1, image.shape[2] if image.ndim == 3 else 1)
    paper = tuple(float(v) for v in np.percentile(sample, 90, axis=0))
    return cv2.warpAffine(
        image, turn, (width, height), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=paper,
    )  # fmt: skip

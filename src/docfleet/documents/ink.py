"""Pixel statistics that spare the models pages with nothing on them.

A scanned blank page (a separator sheet, the back of a single-sided original) costs the layout
and OCR models as much as a page of text and yields nothing. :func:`is_blank` decides from the
pixels alone, in milliseconds: ink is any pixel much darker than the paper, and a page is blank
when its ink would not make up even a small character. Scanner noise, JPEG artefacts and grey
paper are lighter than that threshold; a lone page number or a full stop is not.
"""

from __future__ import annotations

import numpy as np

INK_BELOW_PAPER = 64  # grey levels darker than the paper that count as ink
#: ink pixels at 200 dpi below which a page is blank: a full stop of 10 pt text is about 30,
#: a digit about 100; a speck of dust a few.
MIN_INK_PIXELS_AT_200DPI = 24


def ink_pixels(image: np.ndarray) -> int:
    """Pixels of an RGB or grey page much darker than its paper (the 90th percentile of a
    sample of its pixels), by luminance."""
    import cv2

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    sample = gray[::4, ::4].ravel()
    paper = float(np.partition(sample, int(0.9 * (sample.size - 1)))[int(0.9 * (sample.size - 1))])
    return int(np.count_nonzero(gray < paper - INK_BELOW_PAPER))


def is_blank(image: np.ndarray, dpi: float) -> bool:
    """True when the page holds less ink than a small mark at its resolution.

    >>> page = np.full((200, 160, 3), 250, np.uint8)
    >>> is_blank(page, 200)
    True
    >>> page[100:110, 80:84] = 20  # a 4 x 10 px mark: a comma or a short digit stroke
    >>> is_blank(page, 200)
    False
    """
    scale = (max(dpi, 1.0) / 200.0) ** 2
    return ink_pixels(image) < MIN_INK_PIXELS_AT_200DPI * scale

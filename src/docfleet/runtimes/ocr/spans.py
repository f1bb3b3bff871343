"""Reading again only what the fast recogniser is unsure of: the words of a line that hold a
character read with a low probability (and whose reading the page shows nowhere else) are read
again by the small recogniser, each in a cut of its line: the word (from midway to the word
before to midway to the word after: the white around it, never a letter) and the line around
it up to the 320 px at 48 px high the recogniser pads any input to; the characters read over
the word replace the tiny recogniser's.

Measured on the hard scans (``benchmarks/ocr_calibrate.py``, ``benchmarks/ocr.py``): words read
so are as often among the page's words as whole lines read again; words set side by side in
strips (to save the padding) came out worse and no faster, and runs of neighbouring words read
together worse than each word alone. The tiny recogniser's confident mistakes (a space lost, an
"l" read as "1") are never read again this way, which costs about a point of words F1 against
reading the whole unsure lines again.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from docfleet.runtimes.ocr.recognize import HEIGHT, MIN_WIDTH, Reading


@dataclass(frozen=True)
class Span:
    """A word of a line: its characters ``first`` to ``end`` (exclusive) in the line's text and
    its ``x0``..``x1`` in the line's crop (pixels)."""

    first: int
    end: int
    x0: float
    x1: float


def word_spans(reading: Reading, width: float) -> list[Span]:
    """Each word of ``reading`` (of a crop ``width`` pixels wide): its characters and its x
    from midway to the word before to midway to the word after (the crop's ends at its ends).

    >>> r = Reading("ab cd", 0.9, (0.9,) * 5, (10, 20, 30, 40, 50))
    >>> word_spans(r, 60)
    [Span(first=0, end=2, x0=0.0, x1=30.0), Span(first=3, end=5, x0=30.0, x1=60.0)]
    """
    text, xs = reading.text, reading.xs
    if not text or len(reading.probs) != len(text) or len(xs) != len(text):
        return []
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < len(text) and not text[j].isspace():
            j += 1
        runs.append((i, j))
        i = j
    spans = []
    for k, (first, end) in enumerate(runs):
        x0 = (xs[runs[k - 1][1] - 1] + xs[first]) / 2 if k else 0.0
        x1 = (xs[end - 1] + xs[runs[k + 1][0]]) / 2 if k + 1 < len(runs) else float(width)
        spans.append(Span(first, end, x0, x1))
    return spans


def unsure_spans(
    reading: Reading, width: float, below: float, seen: Counter[str] | None = None
) -> list[Span]:
    """The words of ``reading`` (of a crop ``width`` pixels wide) holding a character read with
    probability under ``below`` and, given ``seen`` (how often the page reads each word, by
    :func:`word_key`), read nowhere else on the page.

    >>> r = Reading("ab cd ef", 0.9, (0.99, 0.99, 0.9, 0.5, 0.9, 0.9, 0.99, 0.5),
    ...             (10, 20, 30, 40, 50, 60, 70, 80))
    >>> unsure_spans(r, 100, 0.8)
    [Span(first=3, end=5, x0=30.0, x1=60.0), Span(first=6, end=8, x0=60.0, x1=100.0)]
    >>> unsure_spans(r, 100, 0.8, Counter({"cd": 1, "ef": 2}))
    [Span(first=3, end=5, x0=30.0, x1=60.0)]
    """
    return [
        w
        for w in word_spans(reading, width)
        if min(reading.probs[w.first : w.end]) < below
        and (seen is None or seen[word_key(reading.text[w.first : w.end])] <= 1)
    ]


def word_key(word: str) -> str:
    """A word as the page's words are counted: its letters and digits, lowercased."""
    return "".join(c for c in word.lower() if c.isalnum())


def span_crop(crop: np.ndarray, span: Span) -> tuple[np.ndarray, float, float]:
    """The columns of ``crop`` to read ``span`` in: the span widened on both sides with the
    line around it up to the width the recogniser pads an input to anyway (320 px at 48 px
    high, so the context costs nothing); and where the span lies in them (x0, x1)."""
    height, width = crop.shape[:2]
    least = MIN_WIDTH * height / HEIGHT
    centre, half = (span.x0 + span.x1) / 2, max(least, span.x1 - span.x0) / 2
    left = max(0, min(math.floor(centre - half), width - math.ceil(2 * half)))
    right = min(width, max(left + 1, math.ceil(centre + half)))
    return crop[:, left:right], span.x0 - left, span.x1 - left


def inside(reading: Reading, x0: float, x1: float) -> Reading:
    """The characters of ``reading`` read between ``x0`` and ``x1``."""
    kept = [k for k, x in enumerate(reading.xs) if x0 <= x < x1]
    text = "".join(reading.text[k] for k in kept)
    probs = tuple(reading.probs[k] for k in kept)
    score = sum(probs) / len(probs) if probs else 0.0
    return Reading(text.strip(), score, probs, tuple(reading.xs[k] for k in kept))


def spliced(reading: Reading, spans: list[Span], again: list[Reading]) -> Reading:
    """``reading`` with each span's characters replaced by what was read again in it (kept
    where nothing was); its score the mean probability of the characters it ends with."""
    text, probs = reading.text, list(reading.probs)
    for span, new in sorted(zip(spans, again, strict=True), key=lambda p: -p[0].first):
        words = new.text.strip()
        if not words:
            continue
        text = text[: span.first] + words + text[span.end :]
        inner = list(new.probs) or [new.score]
        probs = probs[: span.first] + inner[: len(words)] + probs[span.end :]
    score = float(round(sum(probs) / len(probs), 5)) if probs else 0.0
    return Reading(text, score)

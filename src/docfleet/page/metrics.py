"""Text accuracy metrics for OCR output: normalisation and character error rate (CER).

Both texts are normalised the same way before comparing, so that layout-only differences
(line breaks versus spaces, full-width forms, ligatures) do not count as errors.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["cer", "edit_distance", "normalize_text"]

_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Unicode NFKC, every whitespace run collapsed to one space, ends stripped.

    >>> normalize_text("  ﬁrst\\n\\n line\\t\\uff211 ")
    'first line A1'
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions each cost 1.

    Bit-parallel (Myers 1999, Hyyrö 2001): the shorter string becomes Python-integer bit
    vectors and one pass over the longer string costs a handful of integer operations per
    character, so two 2,000-character pages compare in milliseconds.

    >>> edit_distance("kitten", "sitting")
    3
    >>> edit_distance("", "abc")
    3
    """
    # A common prefix and suffix cost nothing; trimming them makes near-identical pages cheap.
    start, end = 0, min(len(a), len(b))
    while start < end and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    # Bit i of a mask stands for row i (character i of the shorter string ``b``); each step
    # of the loop moves one column along ``a``, tracking +1/-1 vertical deltas in pv/mv.
    masks: dict[str, int] = {}
    for i, char in enumerate(b):
        masks[char] = masks.get(char, 0) | (1 << i)
    full = (1 << len(b)) - 1
    last = 1 << (len(b) - 1)
    pv, mv, score = full, 0, len(b)
    for char in a:
        eq = masks.get(char, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = (ph << 1) | 1
        mh <<= 1
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / reference length, after :func:`normalize_text`.

    Not capped at 1.0 (a hypothesis with many extra characters can exceed it). An empty
    reference gives 0.0 for an empty hypothesis and 1.0 otherwise.

    >>> cer("The quick fox", "The quick fox")
    0.0
    >>> cer("abcd", "abXd")
    0.25
    >>> cer("one\\n two", "one two")
    0.0
    >>> cer("", "anything")
    1.0
    """
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)

"""Text against its truth: normalisation, words F1, line integrity, and CER over a set of pages.

Words F1 and line integrity compare with poppler's pdftotext (or any truth text); CER is
``docfleet.page.metrics.cer``.

>>> normalize_for_compare("Intro\ufb01le . . . . . . 3\\n  next")
'Introfile 3 next'
>>> round(words_f1("a b c", "a b d"), 3)
0.667
>>> line_integrity("one two three four five", ["one two three four", "x y"]).score
1.0
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, median
from typing import Any

from docfleet.page.metrics import cer

from .corpora import Key, Texts, page_id

MIN_LINE_WORDS = 4  # shorter lines (headings, page numbers) say little about reading order
_LEADERS = re.compile(r"(?:\.\s*){3,}\.")  # four or more dots, spaces between allowed
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def normalize_for_compare(text: str) -> str:
    """NFKC, dot leaders (4+ dots, ``…`` included) to one space, control characters to a space
    (pdftotext keeps the raw code of a glyph without text, a Type 3 font's unmapped ligature:
    "di\x1berence", where docfleet breaks the word), whitespace runs folded."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text))
    text = _LEADERS.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def words_f1(system: str, reference: str) -> float:
    """F1 of the multisets of whitespace tokens of the two normalised texts."""
    got = Counter(normalize_for_compare(system).split())
    want = Counter(normalize_for_compare(reference).split())
    if not got and not want:
        return 1.0
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class LineIntegrity:
    """Reference lines of 4+ words, and those not found whole in the system's text."""

    lines: int
    missing: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """The share of lines found; None when the page has no line to check."""
        return None if not self.lines else 1 - len(self.missing) / self.lines


def line_integrity(system: str, reference_lines: Iterable[str]) -> LineIntegrity:
    """Which normalised reference lines of 4+ words occur as substrings of the system text."""
    text = normalize_for_compare(system)
    lines = [normalize_for_compare(line) for line in reference_lines]
    lines = [line for line in lines if len(line.split()) >= MIN_LINE_WORDS]
    return LineIntegrity(len(lines), [line for line in lines if line not in text])


def pdftotext_page(path: str | Path, page: int, layout: bool = False) -> str:
    """``pdftotext [-layout] -f PAGE -l PAGE path -`` (1-based page), without the form feed."""
    command = ["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page)]
    if layout:
        command.append("-layout")
    out = subprocess.run([*command, str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8", errors="replace").replace("\f", "")


def cer_figures(texts: Texts, truth: Texts, keys: list[Key]) -> dict[str, Any]:
    """CER over ``keys``: median, mean, the worst page and its CER; a missing page is empty."""
    rates = [cer(truth[key], texts.get(key, "")) for key in keys]
    worst = max(range(len(keys)), key=rates.__getitem__)
    return {
        "cer_median": median(rates),
        "cer_mean": mean(rates),
        "cer_max": rates[worst],
        "cer_max_page": page_id(keys[worst]),
    }


def score(texts: Texts, truth: Texts, keys: list[Key]) -> dict[str, Any]:
    """Words F1 and CER over ``keys``, median and mean; a missing page counts as empty text."""
    f1 = [words_f1(texts.get(key, ""), truth[key]) for key in keys]
    return {
        "words_f1_median": median(f1),
        "words_f1_mean": mean(f1),
        **cer_figures(texts, truth, keys),
        "missing_pages": sum(key not in texts for key in keys),
    }

"""Text fidelity against poppler's pdftotext: normalisation, words F1 and line integrity.

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

MIN_LINE_WORDS = 4  # shorter lines (headings, page numbers) say little about reading order
_LEADERS = re.compile(r"(?:\.\s*){3,}\.")  # four or more dots, spaces between allowed
_SPACE = re.compile(r"\s+")


def normalize_for_compare(text: str) -> str:
    """NFKC, dot leaders (4+ dots, ``…`` included) to one space, whitespace runs folded."""
    text = unicodedata.normalize("NFKC", text)
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

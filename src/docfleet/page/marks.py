"""The marks that open list items and the page numbers contents and running heads give."""

from __future__ import annotations

import re
from collections.abc import Sequence

from docfleet.page.types import TextLine

#: Characters that start a list item: bullets, dashes (en, em), an asterisk, a hyphen.
BULLETS = (
    "\u2022\u25e6\u25aa\u25ab\u2023\u2043\u2219\u00b7\u25cf\u25cb\u25a0\u25a1\u25ba\u25b8"
    "\u2013\u2014*-"
)
#: A list item's mark as a piece of its own: a bullet glyph (no dash), "(a)", "a)", "3)".
LIST_MARK = re.compile(rf"^(?:[{BULLETS[:14]}]|\(?(?:\d{{1,3}}|[a-z]|[ivx]{{1,4}})\))$")
#: A page number as contents and running heads give it: arabic or roman.
PAGE_REF = re.compile(r"^(?:\d{1,4}|[ivxlc]{1,7})$", re.I)
ITEM = re.compile(
    rf"^(?:[{re.escape(BULLETS)}]|\d{{1,3}}[.)]|\(?(?:\d{{1,3}}|[a-z]|[ivx]{{1,4}})\))\s"
)  # a bullet, "3." or "3)", "(b)" or "b)", "(iv)"; not "C." (a sentence may start so)
#: Chinese, Japanese and Korean letters (a word of text is about two of them).
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
#: A caption set as a title, its label and number then words ("Example 4.10 Equation in a
#: block", DocBook's formal titles): a line of its own over what it names.
TITLED_CAPTION = re.compile(
    r"^(?i:example|figure|table|listing|algorithm|equation)\s+[\dA-Z]+(?:\.\d+)*\s+[A-Z]"
)
_NUMBERED = re.compile(r"^\(?(\d{1,3})[.)]\s")


def numbered_on(first: TextLine, lines: Sequence[TextLine]) -> bool:
    """``first`` opens with a number ("4.") and one of ``lines`` set where it is opens with
    the next ("5."): a numbered list, however the text before it ends (a list going on from
    the page before).

    >>> numbered_on(TextLine("4. All", (10, 0, 90, 9)), [TextLine("5. The", (11, 40, 99, 49))])
    True
    """
    number = _NUMBERED.match(first.text)
    if number is None:
        return False
    after = str(int(number[1]) + 1)
    height = first.bbox[3] - first.bbox[1]
    return any(
        (found := _NUMBERED.match(line.text)) is not None
        and found[1] == after
        and abs(line.bbox[0] - first.bbox[0]) < 0.5 * height
        for line in lines
    )

"""What each block is on its page: headings by level, running headers and footers, page
numbers, footnotes, captions, tables of contents, code, from font size, weight, position and
the text's own shape. Pure functions over blocks; the page's size is in pixels."""

from __future__ import annotations

import re
from collections.abc import Sequence
from statistics import median

from docfleet.page.blocks import BULLETS, PAGE_REF, Block, line_size, same_row
from docfleet.page.margins import mark_margins
from docfleet.page.ocr_contents import contents
from docfleet.page.types import TextLine

HEADING_LEVELS = ((1.6, 1), (1.25, 2), (1.1, 3))  # size / body size -> heading level
#: a sentence ends and another begins: "... paragraph. Its" (not "vs. Aleatoric", "etc. And")
_SENTENCE_END = re.compile(r"\b(?!etc\.)[a-z]{3,}[.!?] [A-Z][a-z]")
#: dot leaders, then a page number; two spaced dots before a number will do (Texinfo sets a
#: long chapter entry's leaders ". . 8")
_LEADERS = re.compile(r"(?:\.\s?){3,}\s*\S{1,8}$|\s\.\s\.\s*\d{1,4}$")
#: code, paths and formulas (typewriter ink reads heavy; OCR makes formulas tall)
_CODE_SIGNS = re.compile(r"[(){}\[\]\\/<>=;_@+¹²³]|: \S|[^\W\d]\.[^\W\d]")
OCR_HEADING = 1.25  # OCR box height over the body's at which a short line alone is a heading
#: front-matter and back-matter labels that stand as headings however they are set
_FRONT_LABEL = re.compile(
    r"^(?:abstract|keywords|index terms|ccs concepts|(?:table of )?contents|introduction"
    r"|references|bibliography|acknowledge?ments?|preface|summary|conclusions?|appendix"
    r"|list of (?:figures|tables))[.:]?$",
    re.I,
)
_TEXTUAL = ("text", "list_item", "title", "reference")  # blocks whose role is judged here
_CAPTION = re.compile(r"^(?:figure|fig\.|table|listing|algorithm|exhibit|chart)\s*[\dIVX]+", re.I)
_FOOTNOTE_MARK = re.compile(r"^(?:\d{1,2}|[*†‡§¶]|[a-z])\s?\S")
_OCR_MARK = re.compile(r"^(?:\d{1,2}|[*†‡§¶])\s?\S")
_CHAPTER_LABEL = re.compile(
    r"^(?:chapter|part|appendix)(?:\s+(\d{1,3}|[ivxlc]{1,6}|[a-z]|[a-z]+teen|one|two|three|four"
    r"|five|six|seven|eight|nine|ten|eleven|twelve|twenty))?$",
    re.I,
)
_NUMBER_WORD = re.compile(
    r"^(?:\d{1,3}|[IVXLC]{1,6}|[A-Z]|one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|[a-z]+teen|twenty(?:[- ][a-z]+)?)$",
    re.I,
)
_DOTTED = re.compile(r"^\d{1,2}(?:\.\d{1,3})+\.?\s+[^\W\d_]")
#: A heading's section number: "4", "4.", "4.2.1", "A.3", "Chapter 4".
_SECTION_NUMBER = re.compile(
    r"^(?i:chapter|section|appendix)\s+([A-Z\d]{1,2}(?:\.\d{1,3})*)\.?\s+(?=\S)"
    r"|^(\d{1,2}(?:\.\d{1,3})*|[A-Z](?:\.\d{1,3})+)\.?\s+(?=\S)"
)


def body_size(blocks: Sequence[Block]) -> float:
    """The font size most text on the page is set in (median over characters), code left out
    where there is prose (a page of listings in a smaller size would make prose look large)."""
    lines = [line for block in blocks for line in block.lines]
    prose = [line for line in lines if not line.mono] or lines
    sizes: list[float] = []
    for line in prose:
        sizes.extend([line_size(line)] * max(1, len(line.text) // 8))
    return median(sizes) if sizes else 0.0


def assign_roles(blocks: list[Block], width: float, height: float) -> None:
    """Set each text block's ``type`` (and heading ``level``) in place."""
    for block in blocks:
        if block.type == "table" and block.table is None and contents(block.rows()):
            block.type = "toc"  # titles and page numbers: contents set without leaders
    textual = [b for b in blocks if b.lines and b.type in _TEXTUAL]
    lined = [b for b in blocks if b.lines]
    if not lined:
        return
    body = body_size(textual or lined)
    mark_margins(blocks, width, height, body)  # splits off page numbers: blocks gain members
    textual = [b for b in blocks if b.lines and b.type in _TEXTUAL]
    for block in textual:
        kind, level = _kind(block, body)
        block.type, block.level = kind, level
    _side_by_side_titles(textual)
    _chapter_openings(blocks)
    kept = {id(b) for b in blocks}
    _footnotes([b for b in textual if id(b) in kept], body, height)


def _chapter_openings(blocks: list[Block]) -> None:
    """A chapter label and its number set as headings of their own above the chapter's title
    ("CHAPTER" / "ONE" / "FOREWORD", as Sphinx sets them) become one level-1 heading."""
    i = 0
    while i < len(blocks):
        label = blocks[i]
        named = _CHAPTER_LABEL.match(label.text().strip()) if label.type == "title" else None
        if named is None:
            i += 1
            continue
        parts = [label]
        wanted = ["number", "name"] if named.group(1) is None else ["name"]
        for kind in wanted:
            nxt = blocks[i + len(parts)] if i + len(parts) < len(blocks) else None
            if nxt is None or nxt.type != "title" or not _close_below(parts[-1], nxt):
                break
            if kind == "number" and not _NUMBER_WORD.match(nxt.text().strip()):
                continue
            parts.append(nxt)
        if len(parts) > 1:
            for extra in parts[1:]:
                for line in extra.lines:
                    label.add(line)
            del blocks[i + 1 : i + len(parts)]  # the parts follow the label in the list
            label.level = 1
        i += 1


def _close_below(upper: Block, lower: Block) -> bool:
    height = upper.lines[-1].bbox[3] - upper.lines[-1].bbox[1]
    return 0 <= lower.bbox[1] - upper.bbox[3] < 4 * height


def _side_by_side_titles(blocks: list[Block]) -> None:
    """Headings do not sit side by side: three or more on one row, or two short unnumbered
    ones, are a table's header cells (two numbered headings may open two columns)."""
    titles = [b for b in blocks if b.type == "title"]
    for block in titles:
        row = [b for b in titles if same_row(b.bbox, block.bbox)]
        short = all(len(b.text().split()) <= 3 and not _SECTION_NUMBER.match(b.text()) for b in row)
        if len(row) >= 3 or (len(row) == 2 and short):
            block.type, block.level = "text", 0  # its row mates are met in turn


def _kind(block: Block, body: float) -> tuple[str, int]:
    lines = block.lines
    text = " ".join(line.text for line in lines).strip()
    size = median(line_size(line) for line in lines)
    if all(line.mono for line in lines):  # code, unless a larger bold heading in such a font
        large = lines[0].font_size is not None and body and size >= HEADING_LEVELS[-1][0] * body
        if not (large and all(line.bold for line in lines)):
            return "code", 0
    if sum(bool(_LEADERS.search(ln.text)) for ln in lines) >= len(lines) / 2:
        return "toc", 0
    if _CAPTION.match(text):
        return "caption", 0
    words = len(text.split())
    sized = lines[0].font_size is not None
    if sized and _SECTION_NUMBER.match(text) and all(_page_set_apart(ln) for ln in lines):
        return "toc", 0  # "2 Compiling and Linking      2": a contents entry, however large
    if block.type == "text" and len(lines) == 1 and words <= 12 and _subsection(text):
        return "title", _numbered_level(text, 3)  # "14.2.7 Table of Output Conversions", any font
    label = block.type == "text" and len(lines) == 1 and bool(_FRONT_LABEL.match(text))
    if not sized:  # OCR: the layout model finds the titles; a larger line alone is one too
        taller = size / body if body else 1.0
        if label or (block.type == "text" and _ocr_heading(block, text, taller)):
            return "title", _numbered_level(text, 2)
        return block.type, _numbered_level(text, 0) if block.type == "title" else 0
    long_sentence = words > 12 and text.endswith(".") and not _DOTTED.match(text)
    if _prose_line(text):
        return block.type, 0  # a sentence, however set, is not a heading
    if len(lines) <= 3 and words <= 25 and body and _could_head(text) and not long_sentence:
        ratio = size / body
        for threshold, level in HEADING_LEVELS:
            if ratio >= threshold:
                return "title", _numbered_level(text, level)
        sentence = text.endswith((".", ":")) and not _DOTTED.match(text)  # "3.6. How do I..."
        if all(line.bold for line in lines) and words <= 12 and not sentence:
            return "title", _numbered_level(text, 3)
    if label:
        return "title", 2  # "Abstract", "CCS CONCEPTS", "Contents" on a line of their own
    return block.type, 0


def _ocr_heading(block: Block, text: str, ratio: float) -> bool:
    """An OCR block of a line or two, a few words, no sentence, in boxes taller than the
    body's by ``OCR_HEADING`` (box heights vary with the letters, so only a clear step), or
    of eight words at most in bold (strokes wider than the page's, read from the pixels)."""
    words = len(text.split())
    bold = all(line.bold for line in block.lines) and words <= 8
    return (
        not _CODE_SIGNS.search(text)
        and not text[:1].islower()  # "perl", "xmaxima": a typewriter term, not a heading
        and len(block.lines) <= 2
        and words <= 10
        and (ratio >= OCR_HEADING or bold)
        and _could_head(text)
        and not _prose_line(text)
        and not text.endswith((".", ",", ";", ":"))
    )


def _page_set_apart(line: TextLine) -> bool:
    """The line ends in a page number set apart from its title by a wide gap."""
    return len(line.parts) >= 2 and bool(PAGE_REF.match(line.parts[-1].text.strip()))


def _prose_line(text: str) -> bool:
    """Running text, not a heading: words opening lowercase, a sentence ends inside it and another
    begins ("… in the paragraph. Its XML source is:"), or it ends in a colon after six words
    or more ("The data frame may then be read as follows:")."""
    words = text.split()
    capitals = sum(w[:1].isupper() for w in words if len(w) > 3)
    long_words = sum(len(w) > 3 for w in words)
    if text[:1].islower() and len(words) >= 3 and capitals < long_words / 2:
        return True  # not a name ("page.height") nor a title after one ("zoo: An S3 Class")
    if _SENTENCE_END.search(text) and not _DOTTED.match(text):
        return True
    return text.endswith(":") and len(text.split()) >= 6


def _could_head(text: str) -> bool:
    """A heading holds a word (not a page number alone) and is no bulleted list item."""
    return text[:1] not in BULLETS and bool(re.search(r"[^\W\d_]{2}", text))


def _subsection(text: str) -> bool:
    """A line opened by a dotted section number ("4.2 Tables", "1.5.1 Fixing a bug"), then a
    word, and no sentence end: a heading even where nothing else marks it.

    >>> _subsection("14.2.7 Table of Output Conversions"), _subsection("1. Unpack the file")
    (True, False)
    >>> _subsection("2.5 kg of flour were used."), _subsection("3.14 159")
    (False, False)
    >>> _subsection("2.8. Does it run on Windows. Yes, see the notes")  # a run-in heading
    False
    """
    number = _DOTTED.match(text)
    if not number or text.rstrip().endswith((".", ",", ";", ":")):
        return False
    return not re.search(r"[.!?]\s+\S", text[number.end() :])  # "2.8. Does it? Yes, it does"


def _numbered_level(text: str, by_size: int) -> int:
    """A numbered heading's level is its number's depth ("2" 1, "2.1" 2, "2.1.3" 3, up to
    5), the same on every page; an unnumbered one's comes from its size against the body's.

    >>> _numbered_level("2.1.11 Pairlist objects", 3), _numbered_level("Chapter 4 Tables", 2)
    (3, 1)
    >>> _numbered_level("Introduction", 2), _numbered_level("2015 in review", 2)
    (2, 2)
    >>> _numbered_level("A.3 Limits", 3), _numbered_level("Appendix B Data", 3)
    (2, 1)
    >>> _numbered_level("A new start", 2), _numbered_level("I. Overview", 2)
    (2, 2)
    """
    number = _SECTION_NUMBER.match(text)
    return min((number.group(1) or number.group(2)).count(".") + 1, 5) if number else by_size


def _footnotes(blocks: list[Block], body: float, height: float) -> None:
    """Blocks below the last body-size text, in a smaller size, the first starting with a
    mark (a number, an asterisk, a dagger), are footnotes."""
    body_blocks = [b for b in blocks if b.type not in ("header", "footer")]
    small = {id(b): median(line_size(ln) for ln in b.lines) < 0.9 * body for b in body_blocks}
    normal = [b.bbox[3] for b in body_blocks if not small[id(b)]]
    floor = max(normal) if normal else 0.0
    low = [b for b in body_blocks if small[id(b)] and b.bbox[1] >= max(floor - 1, height / 2)]
    notes = sorted(low, key=lambda b: b.bbox[1])
    first = notes[0].lines[0] if notes else None
    # OCR box heights are rough: a short line is "smaller" by its letters alone, so only a
    # number or a sign marks a footnote there, not a lowercase letter ("this some time.")
    mark = _FOOTNOTE_MARK if first is None or first.font_size is not None else _OCR_MARK
    if first is not None and mark.match(first.text):
        for block in notes:
            if block.type in ("text", "list_item"):
                block.type = "footnote"

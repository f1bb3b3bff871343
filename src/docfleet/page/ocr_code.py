"""Code on OCR pages: runs of lines that read as code kept as code blocks, line by line.

An OCR line has no font to tell monospace by, and the layout model has no class for code (a
shaded listing often comes back as a figure), so lines of code are told by their text: a shell
or console prompt, or signs prose rarely has (``=``, ``;``, braces, ``->``, ``::``, a call
``f(x)``) without reading as a sentence. A run of such lines, with the program output between
them, is one code block; a sentence ends it. A single line is code after a prompt or after
a line ending in a colon ("Add this to your ~/.bashrc:"), or when it is code beyond doubt
(``::``, a closing ``;`` or ``{``, a markup tag).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from docfleet.page.blocks import Block, rows
from docfleet.page.geometry import union_all
from docfleet.page.marks import CJK
from docfleet.page.types import TextLine

PROMPT = re.compile(
    r"^(?:\$|>>>|\.\.\.|R?>|#|%|In \[\d+\]:|\(%[io]?\d+\)|[\w.-]+@[\w.-]+[:~$#]\S*)\s+\S"
)  # a shell's, Python's, R's, IPython's or Maxima's ("(%i3)") prompt, then the command
SIGNS = re.compile(
    r"==|!=|<-|->|::|\+\+|&&|\|\||[;{]\s*$|^\s*[{}]|\w\([^()]*\)|\s--?[a-z][\w-]*|\w=\S|</?\w+>"
    r"|^\s*(?:def|class|import|from|return|if|for|while|int|void|const|let|var)\s"
    r"|\b[a-z][a-z0-9]*_[a-z0-9_]+\b|^\s*(?:end|fi|done|esac|[}\])])\s*$|^\[\d+\]\s"
)
NUMBERED = re.compile(r"^\(?\d{1,2}[.)]\s+[^\W\d_]{2}")  # "2. Execute the script": a list item
STATEMENT = re.compile(r"::|[;{]\s*$|</\w|/>")  # code beyond doubt, even one line alone
URL = re.compile(r"^(?:https?://|www\.|doi:)\S+$", re.I)
_SAID = re.compile(r"^[A-Z][a-z]+ [a-z]+\b")
_WORD = re.compile(r"[(\"'\u201c]?[^\W\d_][\w'\u2019-]*[.,;:!?)\"'\u201d]*")
SIGN_CHARS = set("=;{}()[]<>/\\_|#~$*\"'`@&")
SIGN_SHARE = 0.12  # of a line's characters, signs above which it reads as code
MIN_LINES = 2  # a code block without a prompt
OUTPUT_GAP = 2.0  # line heights between a command and its output set as a region of its own


def code_line(text: str) -> bool:
    """Whether an OCR line reads as code rather than prose.

    >>> code_line("$ quilt push"), code_line("x <- c(10.4, 5.6, 3.1)")
    (True, True)
    >>> code_line("Use glp_set_obj_dir() to set the direction of the objective function.")
    False
    >>> code_line("公司上半年归母净利润同比增长 20.8%(vs+20.6%,23Q1),保持快速增长。")
    False
    """
    text = text.strip()
    if not text or _prose(text) or URL.match(text) or NUMBERED.match(text):
        return False
    if len(CJK.findall(text)) >= max(3, 0.2 * len(text)):
        return False  # Chinese or Japanese running text, however many brackets it holds
    if PROMPT.match(text) or SIGNS.search(text):
        return True
    signs = sum(c in SIGN_CHARS for c in text)
    return len(text) >= 3 and signs >= SIGN_SHARE * len(text)


def _prose(text: str) -> bool:
    """Running text: five words or more, nearly all of them words of letters, or a sentence's
    opening (a capital, then four words of letters), or a sentence naming code ("Referenced by
    f(), g().": two words, then a full stop at the end)."""
    words = text.split()
    plain = [bool(_WORD.fullmatch(w)) for w in words]
    opening = len(words) >= 5 and words[0][:1].isupper() and all(plain[:4])
    said = bool(_SAID.match(text)) and text.endswith(".")  # "Referenced by partial_clear()."
    return said or (len(words) >= 5 and (sum(plain) >= 0.8 * len(words) or opening))


def _sentence(text: str) -> bool:
    """Running text that ends a sentence or introduces what follows."""
    return _prose(text) and text[-1:] in ".:!?"


def _in_sentence(texts: list[str], first: int, last: int) -> bool:
    """Lines ``first`` to ``last`` sit inside a sentence of the text around them: the line
    before goes on into them, or the line after goes on from them (it opens lowercase)."""
    before = first > 0 and _prose(texts[first - 1]) and texts[first - 1][-1:] not in ".:!?;"
    after = (
        last + 1 < len(texts)
        and texts[last + 1][:1].islower()
        and bool(re.search(r"[\w,]$", texts[last]))
        and len(texts[last].split()) >= 5  # words running on, not a declaration over its note
    )
    return before or after


def code_runs(block: Block) -> list[Block]:
    """``block`` (OCR lines of one region) cut into code blocks and the text between them, in
    order; the block itself when it holds no code. A code line is the row's pieces joined."""
    units = rows(block.lines)
    texts = [" ".join(ln.text.strip() for ln in row) for row in units]
    flags = [code_line(t) for t in texts]
    prompt = [bool(PROMPT.match(t)) for t in texts]
    code = [False] * len(units)
    i = 0
    while i < len(units):
        if not flags[i]:
            i += 1
            continue
        j = end = i  # over code lines and the output between them, up to a sentence
        while j + 1 < len(units) and not _sentence(texts[j + 1]):
            j += 1
            if flags[j]:
                end = j
        if any(prompt[i : end + 1]):  # a command's output, up to a line of prose
            while end < j and not _prose(texts[end + 1]):
                end += 1
        introduced = i > 0 and texts[i - 1].endswith(":")
        inside = _in_sentence(texts, i, end) and not any(prompt[i : end + 1])
        alone = end == i and bool(STATEMENT.search(texts[i]))  # "std::vector<T> f::g;"
        several = end - i + 1 >= MIN_LINES
        if not inside and (several or any(prompt[i : end + 1]) or introduced or alone):
            code[i : end + 1] = [True] * (end - i + 1)
        i = end + 1
    if not any(code):
        return [block]
    out: list[Block] = []
    for row, text, is_code in zip(units, texts, code, strict=True):
        kind = "code" if is_code else block.type
        if not out or out[-1].type != kind:
            out.append(Block(kind, row[0].bbox, block.score))
        if is_code:
            box = union_all(ln.bbox for ln in row)
            pieces = tuple(row) if len(row) > 1 else ()
            out[-1].lines.append(TextLine(text, box, min(ln.score for ln in row), parts=pieces))
        else:
            out[-1].lines += row
    for part in out:  # the region's width, the part's height: reading order as before
        box = union_all(ln.bbox for ln in part.lines)
        part.bbox = (block.bbox[0], box[1], block.bbox[2], box[3])
    return out


def command_output(blocks: Sequence[Block]) -> None:
    """Type ``code`` each text block (in reading order) that holds no prose and sits right
    under a code block of commands (prompts): their output, which the layout model drew as a
    region of its own ("[1] TRUE", a printed table)."""
    for upper, lower in pairwise(blocks):
        if upper.type != "code" or lower.type != "text" or not upper.lines or not lower.lines:
            continue
        height = min(ln.bbox[3] - ln.bbox[1] for ln in upper.lines)
        below = -0.5 * height < lower.bbox[1] - upper.bbox[3] < OUTPUT_GAP * height
        commands = any(PROMPT.match(ln.text.strip()) for ln in upper.lines)
        if below and commands and not any(_prose(ln.text.strip()) for ln in lower.lines):
            lower.type = "code"

"""Blocks of a page's Markdown against a page annotated by hand: which paragraphs, list items,
headings and code blocks start where the page starts them, and whether contents entries stay
whole.

An annotation lists the page's body blocks in reading order, each by type and opening words
(see benchmarks/structure_pages/README.md). A Markdown block *matches* a reference block of
the same type when their opening letters and digits (lowercased, list marks left out) agree:
the first ``len(reference)`` (at most ``PREFIX``) characters, by rapidfuzz's ratio at least
``threshold``. Each reference block is matched once, in order.

Per type: ``found`` (references matched, for recall), ``made`` (Markdown blocks of that type,
for precision; a block that matches a reference of a type not scored, such as a caption or a
table, or a contents entry written as a list item, is left out of both) and ``right`` (the
matches). A contents entry is *intact* when one Markdown line holds its title and ends with its
page number.

>>> md = "## 1 Intro\\n\\nSome text here that goes on.\\n\\n- first item\\n- second\\n"
>>> ref = [{"type": "heading", "text": "1 Intro"}, {"type": "paragraph", "text": "Some text"},
...        {"type": "item", "text": "first item"}, {"type": "item", "text": "second"}]
>>> s = score_page(markdown_blocks(md), ref, md)
>>> s["item"], s["paragraph"]
({'refs': 2, 'made': 2, 'right': 2}, {'refs': 1, 'made': 1, 'right': 1})
>>> [b.type for b in markdown_blocks("```\\nx = 1\\n```\\n| a | b |\\n1. one\\n   more\\n")]
['code', 'table', 'item']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

SCORED = ("heading", "paragraph", "item", "code")
PREFIX = 40  # opening characters compared
MARK = re.compile(r"^\s*(?:[-*+•▪◦‣\u2013·]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlc]{1,5})[.)])\s+")
ITEM = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
BAD = re.compile(r"[\ufffd\ufffe\ud800-\udfff\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Block:
    """One block of Markdown: its type, its text (marks and ``#`` left out) and list level."""

    type: str
    text: str
    level: int = 0


def key(text: str) -> str:
    """Letters and digits, lowercased, after a leading list mark is left out."""
    text = unicodedata.normalize("NFKC", MARK.sub("", text, count=1)).lower()
    return re.sub(r"[\W_]+", "", text.replace("**", "").replace("`", ""))


def markdown_blocks(markdown: str) -> list[Block]:
    """The blocks of one page's Markdown, in order: heading, paragraph, item, code, table,
    formula, figure."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        i += 1
        if not stripped or stripped.startswith("<!--"):
            continue
        if stripped.startswith("```") or stripped == "$$":
            fence = stripped[:3] if stripped.startswith("```") else "$$"
            body = []
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            i += 1
            first = next((b.strip() for b in body if b.strip()), "")
            blocks.append(Block("code" if fence == "```" else "formula", first))
            continue
        if heading := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            blocks.append(Block("heading", heading[2], len(heading[1])))
            continue
        if stripped.startswith(("|", "<table")) or stripped.startswith("!["):
            pipe = stripped.startswith("|")
            while i < len(lines) and lines[i].strip() and (not pipe or lines[i].strip()[0] == "|"):
                i += 1
            blocks.append(Block("table" if not stripped.startswith("![") else "figure", stripped))
            continue
        item = ITEM.match(line)
        if not item and line[:2] == "  " and blocks and blocks[-1].type == "item":
            while i < len(lines) and lines[i].strip() and not ITEM.match(lines[i]):
                i += 1  # a paragraph of the list item, set in under it: the item goes on
            continue
        text = [item[2] if item else stripped.removeprefix("> ")]
        while i < len(lines) and lines[i].strip() and not ITEM.match(lines[i]):
            nxt = lines[i].strip()
            if nxt.startswith(("#", "```", "|", "$$")):
                break
            text.append(nxt.removeprefix("> "))
            i += 1
        if item:
            blocks.append(Block("item", " ".join(text), len(item[1]) // 4 + 1))
        else:
            blocks.append(Block("paragraph", " ".join(text)))
    return blocks


def same(made: str, ref: str, threshold: float) -> bool:
    """Whether a block's opening agrees with a reference's (see the module's text)."""
    kr = key(ref)[:PREFIX]
    if not kr:
        return False
    return fuzz.ratio(key(made)[: len(kr)], kr) >= threshold


def entry_intact(entry: dict[str, Any], lines: Sequence[str]) -> bool:
    """A contents entry's title and page number on one line, the number at its end."""
    title, page = key(entry.get("text", ""))[:30], str(entry.get("page", "")).strip().lower()
    for line in lines:
        if title and title in key(line):
            tail = re.sub(r"[\s.…·*_|)\]]+$", "", line).lower()
            if not page or re.search(rf"(?:^|[^\w]){re.escape(page)}$", tail):
                return True
    return False


def damaged(markdown: str, reference: str) -> int:
    """Replacement characters, lone surrogates and control characters in the Markdown beyond
    those in the page's own text."""
    return max(0, len(BAD.findall(markdown)) - len(BAD.findall(reference)))


def texts_of(ref: dict[str, Any], field: str = "text") -> list[str]:
    """A reference's opening words, and for a numbered contents entry also with its number."""
    text = ref.get(field) or ref["text"]
    number = str(ref.get("number") or "").strip()
    return [text] + ([f"{number} {text}"] if number else [])


def score_page(
    blocks: Sequence[Block],
    refs: Sequence[dict[str, Any]],
    markdown: str,
    threshold: float = 90,
    field: str = "text",
) -> dict[str, Any]:
    """Per scored type ``{"refs", "made", "right"}``, and ``contents`` ``{"entries", "intact"}``.
    ``field``: the annotation's words to compare, ``printed`` for scans where a block has them
    (what the page shows, where its text layer spells it otherwise), else ``text``."""
    lines = [line for line in markdown.splitlines() if line.strip()]
    entries = [r for r in refs if r["type"] == "contents"]
    intact = [entry_intact(e, lines) for e in entries]
    result: dict[str, Any] = {"contents": {"entries": len(entries), "intact": sum(intact)}}
    others = [t for r in refs if r["type"] not in SCORED for t in texts_of(r, field)]
    for kind in SCORED:
        wanted = [r for r in refs if r["type"] == kind]
        made = [b for b in blocks if b.type == kind]
        used: set[int] = set()
        for ref in wanted:
            for j, block in enumerate(made):
                if j not in used and same(block.text, texts_of(ref, field)[0], threshold):
                    used.add(j)
                    break
        unscored = sum(
            1
            for j, block in enumerate(made)
            if j not in used and any(same(block.text, other, threshold) for other in others)
        )
        result[kind] = {"refs": len(wanted), "made": len(made) - unscored, "right": len(used)}
    return result


def totals(pages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Precision and recall per type over pages, contents entries and pages intact."""
    pages = list(pages)
    out: dict[str, Any] = {}
    for kind in SCORED:
        refs = sum(p[kind]["refs"] for p in pages)
        made = sum(p[kind]["made"] for p in pages)
        right = sum(p[kind]["right"] for p in pages)
        out[kind] = {
            "refs": refs,
            "made": made,
            "precision": right / made if made else None,
            "recall": right / refs if refs else None,
        }
    toc = [p["contents"] for p in pages if p["contents"]["entries"]]
    out["contents"] = {
        "pages": len(toc),
        "pages_intact": sum(c["intact"] == c["entries"] for c in toc),
        "entries": sum(c["entries"] for c in toc),
        "entries_intact": sum(c["intact"] for c in toc),
    }
    out["damaged"] = sum(p.get("damaged", 0) for p in pages)
    return out

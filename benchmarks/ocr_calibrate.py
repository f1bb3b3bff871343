"""Which words the small recogniser reads better than the tiny one, on scanned pages: the
rule for reading again that gives the most words right per second.

    python benchmarks/ocr_calibrate.py [--corpus DIR] [--set hard|easy] [--pages N] [--json PATH]

On each page of benchmarks/scanned_corpus.py's ``--set`` (200 dpi, as ``docfleet run`` renders
it), in this process on one CPU core: the tiny detector finds the lines, the tiny recogniser
reads them (each character's probability and place), and the small recogniser reads every
word again (each with the line around it up to the 320 px the recogniser pads to, its own
characters told by where they were read, as docfleet's span cascade does) and every whole
line. A word is *right* when it is among the page's
words (pdftotext of the original page, as a multiset). For each rule, over all pages:

  reread    the share of words (or lines) it reads again
  right     the share of words right with its choice of reading
  s/page    detection and the tiny reading, plus the rule's share of the measured seconds of
            reading every word again (by the words' padded widths) or every line
  right/s   words right per second

Rules: ``tiny`` (none read again), ``line<0.98`` (docfleet's line cascade: whole lines whose
mean probability is under 0.98), ``min<T`` (the words holding a character under T),
``min<T+unseen`` (those whose tiny reading is not seen elsewhere on the page), and ``all``
(every word: the small recogniser's reading throughout).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import scanned_corpus
from common.corpora import SCANNED_CORPUS
from common.machine import print_machine
from common.report import Column, Table, write_json

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
_TOKEN = re.compile(r"[\W_]+")


def norm(word: str) -> str:
    return _TOKEN.sub("", word).lower()


def measure(pdfs: list[Path], truth: dict, pages: int | None) -> dict[str, Any]:
    """Per word: tiny and small readings, probabilities, right or not; the seconds spent."""
    from docfleet.documents.pdf import render_pdf_page
    from docfleet.engine.devices import Device
    from docfleet.runtimes.ocr.engine import PageOcr
    from docfleet.runtimes.ocr.recognize import crop_line
    from docfleet.runtimes.ocr.spans import inside, span_crop, word_key, word_spans

    cpu = Device.parse("cpu")
    tiny, small = PageOcr("tiny", cpu), PageOcr("small", cpu).recogniser
    words: list[dict[str, Any]] = []
    seconds = Counter[str]()
    done = 0
    for pdf in pdfs:
        for number in (1, 2):
            if pages is not None and done >= pages:
                break
            if (pdf.name, number) not in truth:
                continue
            image, _, _ = render_pdf_page(pdf, number, dpi=200)
            start = time.perf_counter()
            quads = tiny.detector.detect_many([image], stack=False)[0]
            crops = [crop_line(image, q) for q in quads]
            readings = tiny.recogniser.read(crops)
            seconds["tiny"] += time.perf_counter() - start
            start = time.perf_counter()
            small.read(crops)
            seconds["lines"] += time.perf_counter() - start
            spans = [
                (i, s) for i, r in enumerate(readings) for s in word_spans(r, crops[i].shape[1])
            ]
            cuts = [span_crop(crops[i], s) for i, s in spans]
            pieces = [piece for piece, _, _ in cuts]
            start = time.perf_counter()
            read = small.read(pieces)
            again = [inside(r, x0, x1) for r, (_, x0, x1) in zip(read, cuts, strict=True)]
            seconds["words"] += time.perf_counter() - start
            page_truth = Counter(norm(w) for w in truth[pdf.name, number].split())
            seen = Counter(word_key(w) for r in readings for w in r.text.split())
            for k, (i, span) in enumerate(spans):
                r = readings[i]
                probs = r.probs[span.first : span.end]
                word = r.text[span.first : span.end]
                words.append({
                    "page": done, "line": i, "line_score": r.score,
                    "tiny": word, "small": again[k].text,
                    "min": min(probs), "width": _width(pieces[k]),
                    "tiny_right": page_truth[norm(word)] > 0,
                    "small_right": page_truth[norm(again[k].text)] > 0,
                    "unseen": seen[word_key(word)] <= 1,
                })  # fmt: skip
            done += 1
    return {"pages": done, "words": words, "seconds": dict(seconds)}


def _width(piece: Any) -> float:
    """The piece's width at the recogniser's 48 px height, padded to its 320 px at least."""
    return max(320.0, piece.shape[1] * 48 / max(1, piece.shape[0]))


def rules(data: dict[str, Any]) -> list[dict[str, Any]]:
    words, secs, n = data["words"], data["seconds"], max(data["pages"], 1)
    total_width = sum(w["width"] for w in words) or 1.0
    lines = {(w["page"], w["line"]) for w in words}

    def evaluate(name: str, chosen: list[bool], line_cost: float | None = None) -> dict:
        right = sum(
            w["small_right"] if c else w["tiny_right"] for w, c in zip(words, chosen, strict=True)
        )
        width = sum(w["width"] for w, c in zip(words, chosen, strict=True) if c)
        cost = line_cost if line_cost is not None else secs["words"] * width / total_width
        per_page = (secs["tiny"] + cost) / n
        return {"rule": name, "reread": sum(chosen) / len(words), "right": right / len(words),
                "s_per_page": per_page, "right_per_s": right / n / per_page}  # fmt: skip

    out = [evaluate("tiny", [False] * len(words))]
    unsure_lines = {(w["page"], w["line"]) for w in words if w["line_score"] < 0.98}
    share = len(unsure_lines) / max(len(lines), 1)
    out.append(evaluate("line<0.98", [(w["page"], w["line"]) in unsure_lines for w in words],
                        secs["lines"] * share))  # fmt: skip
    for t in THRESHOLDS:
        out.append(evaluate(f"min<{t}", [w["min"] < t for w in words]))
        out.append(evaluate(f"min<{t}+unseen", [w["min"] < t and w["unseen"] for w in words]))
    out.append(evaluate("all", [True] * len(words)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SCANNED_CORPUS), help="scanned_corpus.py's folder")
    parser.add_argument("--set", choices=("hard", "easy"), default="hard")
    parser.add_argument("--pages", type=int, help="only the first N pages")
    parser.add_argument("--json", metavar="PATH", help="write the figures here")
    args = parser.parse_args()
    machine = print_machine(18)
    look = scanned_corpus.HARD if args.set == "hard" else scanned_corpus.EASY
    corpus = scanned_corpus.load(Path(args.corpus), look=look)
    data = measure(corpus.pdfs, corpus.truth, args.pages)
    found = rules(data)
    table = Table(Column("rule", 18, "<"), Column("reread", 7), Column("right", 7),
                  Column("s/page", 7), Column("right/s", 8))  # fmt: skip
    for row in found:
        table.add(row["rule"], f"{row['reread']:.1%}", f"{row['right']:.2%}",
                  f"{row['s_per_page']:.2f}", f"{row['right_per_s']:.1f}")  # fmt: skip
    print(
        f"{args.set} set, {data['pages']} pages, {len(data['words'])} words; seconds on all "
        f"pages: tiny {data['seconds']['tiny']:.1f}, every line again "
        f"{data['seconds']['lines']:.1f}, every word again {data['seconds']['words']:.1f}"
    )
    print(table.render(False))
    write_json({"machine": machine, "set": args.set, "pages": data["pages"],
                "seconds": data["seconds"], "rules": found}, args.json)  # fmt: skip


if __name__ == "__main__":
    main()

"""Damaged characters in docfleet's text-layer lines over PDFs, against PDFium's own text.

Per page, ``docfleet.documents.pdf.damage.page_damage``: U+FFFD, U+FFFE, lone surrogates and
control characters (but tab and newline) that PDFium's ``get_text_range`` of the page does not
hold. Run over a folder of PDFs (the real corpus's text PDFs, say)::

    python -m benchmarks.common.chardamage ~/.cache/docfleet-bench/real/text [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from docfleet.documents.pdf import pdf_page_count
from docfleet.documents.pdf.damage import page_damage


def corpus_damage(pdfs: Iterable[Path]) -> dict[str, Any]:
    """``{"pages", "damaged", "by_char", "pages_damaged": {"file:page": count}}`` over ``pdfs``."""
    total: Counter[str] = Counter()
    pages, damaged_pages = 0, {}
    for pdf in pdfs:
        for page in range(1, pdf_page_count(pdf) + 1):
            pages += 1
            damage = page_damage(pdf, page)
            if damage:
                damaged_pages[f"{pdf.name}:{page}"] = sum(damage.values())
                total += damage
    return {
        "pages": pages,
        "damaged": sum(total.values()),
        "by_char": {f"U+{ord(c):04X}": n for c, n in total.most_common()},
        "pages_damaged": damaged_pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="PDFs, or folders of PDFs")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    pdfs = [q for p in args.paths for q in (sorted(p.glob("*.pdf")) if p.is_dir() else [p])]
    figures = corpus_damage(pdfs)
    for key, count in figures["pages_damaged"].items():
        print(f"{count:6d}  {key}")
    print(f"{figures['damaged']} damaged characters on {len(figures['pages_damaged'])} of "
          f"{figures['pages']} pages: {figures['by_char']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

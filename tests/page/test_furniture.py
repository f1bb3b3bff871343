"""Page furniture across a document's pages (``docfleet.page.furniture``): a line repeated at
the same place, or a lone number counting up with the pages, leaves the Markdown; the first
page's record is written before the repeat is seen and keeps its edge block.

Records here are the page records ``docfleet run`` writes (fields as in pages.jsonl), made by
hand with what the document-level pass reads; real pages through the whole run are in
tests/jobs/run/test_run_furniture.py.
"""

from __future__ import annotations

from typing import Any

from docfleet.page.furniture import Furniture, furniture_key

HEAD = "Journal of Page Studies, Volume 12, Issue 3. Published by Nobody."


def block(kind: str, text: str, y: float, edge: str = "", level: int = 0) -> dict[str, Any]:
    found = {"type": kind, "bbox": [100.0, y, 900.0, y + 20], "text": text, "score": 1.0}
    return found | ({"edge": edge} if edge else {}) | ({"level": level} if level else {})


def page(n: int, blocks: list[dict[str, Any]], markdown: list[str]) -> dict[str, Any]:
    return {"id": f"d.pdf#{n}", "document": "d.pdf", "page": n, "pages": 4, "status": "ok",
            "height": 1100, "blocks": blocks, "markdown": "\n\n".join(markdown)}  # fmt: skip


def journal(n: int, *, number_y: float = 1000.0) -> dict[str, Any]:
    """A page of a journal: its running head (shaped like a sentence, so no page rule takes
    it), a paragraph and its printed page number (the file's page plus 40)."""
    body = f"Body text of page {n}."
    blocks = [
        block("text", HEAD, 50, edge="top"),
        block("text", body, 300),
        block("text", str(n + 40), number_y, edge="bottom"),
    ]
    return page(n, blocks, [HEAD, body, str(n + 40)])


def test_a_line_the_pages_repeat_at_the_same_place_leaves_the_markdown():
    furniture = Furniture()
    pages = [journal(n, number_y=1000 + 30 * (n % 2)) for n in range(1, 5)]  # numbers move
    for record in pages:
        furniture.mark(record)  # as docfleet run does, before writing each line
    assert [b["type"] for b in pages[0]["blocks"]] == ["text", "text", "text"]  # written first
    for record in pages[1:]:
        assert [b["type"] for b in record["blocks"]] == ["header", "text", "footer"]
        assert record["markdown"] == f"Body text of page {record['page']}."
        assert "edge" not in record["blocks"][0]
    composed = furniture.compose("d.pdf", {r["page"]: r["markdown"] for r in pages})
    assert composed == {n: f"Body text of page {n}." for n in range(1, 5)}


def test_a_line_on_one_page_only_or_elsewhere_on_the_next_stays():
    furniture = Furniture()
    once = page(1, [block("text", "Figure 3 shows the set-up.", 1000, edge="bottom")],
                ["Figure 3 shows the set-up."])  # fmt: skip
    moved = page(2, [block("text", "Figure 3 shows the set-up.", 500, edge="bottom")],
                 ["Figure 3 shows the set-up."])  # fmt: skip
    for record in (once, moved):
        furniture.mark(record)
    assert [r["blocks"][0]["type"] for r in (once, moved)] == ["text", "text"]
    assert furniture.compose("d.pdf", {1: once["markdown"], 2: moved["markdown"]}) == {
        1: "Figure 3 shows the set-up.",
        2: "Figure 3 shows the set-up.",
    }


def test_the_page_number_at_either_end_and_digits_do_not_make_two_lines_differ():
    assert furniture_key("Debian Reference 62 / 233") == furniture_key("148 Debian Reference")
    assert furniture_key("Rcpp Vignette | April 3, 2022 | 7") == "rcpp vignette | april #, #"
    assert furniture_key("Page 3") == furniture_key("- 4 -") == "#"
    furniture = Furniture()
    heads = [page(n, [block("title", f"Chapter {n}: Tables {60 + n}", 50, "top", 3)],
                  [f"#### Chapter {n}: Tables {60 + n}"]) for n in (1, 2)]  # fmt: skip
    for record in heads:
        furniture.mark(record)
    assert heads[1]["blocks"][0]["type"] == "header" and heads[1]["markdown"] == ""
    assert furniture.compose("d.pdf", {1: heads[0]["markdown"], 2: ""}) == {1: "", 2: ""}


def test_keep_puts_the_furniture_back_at_the_top_and_foot_of_each_page():
    furniture = Furniture(keep=True)
    pages = [journal(n) for n in range(1, 4)]
    pages[0]["blocks"][2]["type"] = "footer"  # typed by its own page: not in its Markdown
    pages[0]["blocks"][2].pop("edge")
    pages[0]["markdown"] = f"{HEAD}\n\nBody text of page 1."
    for record in pages:
        furniture.mark(record)
    composed = furniture.compose("d.pdf", {r["page"]: r["markdown"] for r in pages})
    assert composed == {n: f"{HEAD}\n\nBody text of page {n}.\n\n{n + 40}" for n in (1, 2, 3)}


def test_a_resumed_run_reads_earlier_records_as_they_are():
    furniture = Furniture()
    earlier = journal(1)
    furniture.observe(earlier)
    later = journal(2)
    furniture.mark(later)
    assert later["markdown"] == "Body text of page 2."
    assert furniture.compose("d.pdf", {1: earlier["markdown"], 2: later["markdown"]}) == {
        1: "Body text of page 1.",
        2: "Body text of page 2.",
    }


def test_failed_pages_and_other_documents_are_left_alone():
    furniture = Furniture()
    furniture.mark({"id": "d.pdf#1", "document": "d.pdf", "page": 1, "status": "error"})
    other = journal(1) | {"document": "e.pdf"}
    furniture.mark(other)
    furniture.mark(journal(2))
    failed = "<!-- page 1 failed: ValueError: bad -->"
    assert furniture.compose("d.pdf", {1: failed, 2: "Body text of page 2."}) == {
        1: failed,
        2: "Body text of page 2.",
    }
    assert HEAD in furniture.compose("e.pdf", {1: other["markdown"]})[1]

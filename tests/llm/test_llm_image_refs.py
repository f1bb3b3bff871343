"""Records that name their image or PDF page in a column (`--image-column`), with a tiny VLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from docs_factory import invoice_scans

from docfleet.jobs.extract.job import ExtractConfig, run_extract
from docfleet.llm.records.image_refs import attach_images
from docfleet.llm.records.tabular import read_records

PROMPT = "Read the invoice."


@pytest.fixture()
def scans(tmp_path: Path) -> Path:
    return invoice_scans(tmp_path / "scans")


def table(tmp_path: Path, scans: Path) -> Path:
    """A CSV in its own folder naming pages relative to itself, one absolute, and bad ones."""
    rows = [
        ("r1", "Acme", "../scans/a.pdf#2"),
        ("r2", "Globex", "../scans/b.png"),
        ("r3", "Initech", str(scans / "c.jpg")),
        ("r4", "Acme", "../scans/a.pdf#9"),
        ("r5", "Umbrella", ""),
        ("r6", "Hooli", "../scans/missing.png"),
        ("r7", "Stark", "../scans/d.png"),
    ]
    folder = tmp_path / "table"
    folder.mkdir()
    path = folder / "invoices.csv"
    path.write_text("id,vendor,scan\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return path


def settings(vlm: Path, data: Path, out: Path, **extra) -> ExtractConfig:
    base = {"model": str(vlm), "input": str(data), "output": str(out), "prompt": PROMPT,
            "answer_format": "text", "max_new_tokens": 5, "devices": "cpu", "dpi": 72,
            "workers": "thread", "progress": False}  # fmt: skip
    return ExtractConfig(**{**base, **extra})


def lines(path: Path) -> dict[str, dict]:
    return {x["id"]: x for x in map(json.loads, path.read_text().splitlines())}


def test_the_named_pages_are_what_the_model_sees_and_bad_references_are_errors(
    tiny_vlm, scans, tmp_path
):
    data = table(tmp_path, scans)
    report = run_extract(settings(tiny_vlm, data, tmp_path / "rows.jsonl", id_column="id",
                                  image_column="scan"))  # fmt: skip
    rows = lines(tmp_path / "rows.jsonl")
    assert list(rows) == [f"r{i}" for i in range(1, 8)] and report.failed == 4
    errors = {k: (v["error"]["type"], v["error"]["message"]) for k, v in rows.items()
              if v["status"] == "error"}  # fmt: skip
    assert errors["r4"][0] == "BadImage" and "has 3 page(s), not page 9" in errors["r4"][1]
    assert errors["r5"][0] == "BadImage" and "'scan' is empty" in errors["r5"][1]
    assert errors["r6"][0] == "unreadable" and "missing.png" in errors["r6"][1]
    assert errors["r7"][0] == "not-a-document"
    # the same pages, read as pages
    run_extract(settings(tiny_vlm, scans, tmp_path / "pages.jsonl"))
    pages = lines(tmp_path / "pages.jsonl")
    for row, page in (("r1", "a.pdf#2"), ("r2", "b.png#1"), ("r3", "c.jpg#1")):
        page = f"{scans}/{page}"  # page ids are paths as given, as docfleet run names pages
        assert rows[row]["raw"] == pages[page]["raw"]
        assert rows[row]["tokens_in"] == pages[page]["tokens_in"]  # the image tokens included


def test_rows_naming_pages_of_one_pdf_and_a_misspelt_column_named_in_the_error(scans, tmp_path):
    data = tmp_path / "many.jsonl"
    refs = [f"{scans / 'a.pdf'}#{1 + i % 3}" for i in range(30)]
    data.write_text("".join(json.dumps({"scan": r, "n": i}) + "\n" for i, r in enumerate(refs)))
    records = attach_images(read_records(data), "scan")
    assert [r.page.page for r in records] == [1 + i % 3 for i in range(30)]
    assert {r.page.document for r in records} == {str(scans / "a.pdf")}
    with pytest.raises(ValueError, match=r"'picture' is not a column.*n, scan"):
        attach_images(read_records(data), "picture")


def test_an_image_column_needs_a_vision_language_model(tiny_llm, scans, tmp_path):
    data = table(tmp_path, scans)
    with pytest.raises(ValueError, match=r"column 'scan' names images.*text-only model"):
        run_extract(settings(tiny_llm, data, tmp_path / "o.jsonl", image_column="scan"))
    assert not (tmp_path / "o.jsonl").exists()

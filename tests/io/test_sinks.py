"""pages.jsonl survives a kill mid-line; Markdown is written per complete document."""

from __future__ import annotations

import json

from docfleet.io.sinks.jsonl import JsonlSink, read_records
from docfleet.io.sinks.markdown import MarkdownSink, markdown_path


def test_partial_last_line_from_a_killed_run_is_dropped_on_resume(tmp_path):
    path = tmp_path / "pages.jsonl"
    with JsonlSink(path, resume=False) as sink:
        sink.write({"id": "a#1", "text": "é ok"})
        sink.write({"id": "a#2"})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "a#3", "te')  # what a kill mid-write leaves
    assert [r["id"] for r in read_records(path)] == ["a#1", "a#2"]
    with JsonlSink(path, resume=True) as sink:
        sink.write({"id": "a#3"})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a#1", "a#2", "a#3"]
    assert json.loads(lines[0])["text"] == "é ok"


def test_no_resume_starts_the_file_afresh(tmp_path):
    path = tmp_path / "pages.jsonl"
    with JsonlSink(path, resume=False) as sink:
        sink.write({"id": "old"})
    with JsonlSink(path, resume=False) as sink:
        sink.write({"id": "new"})
    assert [r["id"] for r in read_records(path)] == ["new"]


def record(doc, page, pages, md="", status="ok"):
    return {"document": doc, "page": page, "pages": pages, "status": status, "markdown": md,
            "error": {"type": "ValueError", "message": "bad"}}  # fmt: skip


def test_markdown_is_written_once_every_page_is_in(tmp_path):
    sink = MarkdownSink(tmp_path)
    sink.add(record("in/a b.pdf", 1, 2, "## Title"))
    target = markdown_path(tmp_path, "in/a b.pdf")
    assert target == tmp_path / "documents" / "in" / "a b.pdf.md"
    assert not target.exists()
    sink.add(record("in/a b.pdf", 2, 2, status="error"))
    text = target.read_text()
    assert text.startswith("# a b.pdf\n")
    assert "## Title" in text and "page 2 failed: ValueError: bad" in text


def test_paths_never_escape_the_documents_folder(tmp_path):
    target = markdown_path(tmp_path, "/abs/../../etc/passwd")
    assert tmp_path / "documents" in target.parents
    assert target.name == "passwd.md"


def test_replayed_records_do_not_rewrite_finished_documents(tmp_path):
    sink = MarkdownSink(tmp_path)
    sink.add(record("a.pdf", 1, 1, "first"))
    target = markdown_path(tmp_path, "a.pdf")
    target.write_text("edited by hand")
    MarkdownSink(tmp_path).add(record("a.pdf", 1, 1, "first"), replay=True)
    assert target.read_text() == "edited by hand"
    resumed = MarkdownSink(tmp_path)
    resumed.add(record("b.pdf", 1, 2, "one"), replay=True)
    resumed.add(record("b.pdf", 2, 2, "two"))
    assert "one" in markdown_path(tmp_path, "b.pdf").read_text()


def test_compose_turns_a_complete_documents_pages_into_its_markdown(tmp_path):
    seen = []

    def compose(document, pages):
        seen.append((document, dict(pages)))
        return {n: md.upper() for n, md in pages.items()}

    sink = MarkdownSink(tmp_path, compose=compose)
    sink.add(record("a.pdf", 1, 2, "one"))
    assert seen == []  # not before every page is in
    sink.add(record("a.pdf", 2, 2, "two"))
    assert seen == [("a.pdf", {1: "one", 2: "two"})]
    assert "ONE" in markdown_path(tmp_path, "a.pdf").read_text()

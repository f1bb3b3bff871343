"""The serve job store: real SQLite files and folders; crashes simulated by what they leave."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from docfleet.io.sinks.jsonl import JsonlSink
from docfleet.serve.store import Job, JobStore, safe_name


def upload(tmp_path: Path, data: bytes = b"%PDF-1.7\n") -> Path:
    """A temp file as the HTTP layer leaves an upload, outside the store."""
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / f"up{len(list(folder.iterdir()))}.tmp"
    path.write_bytes(data)
    return path


def pages(counts: dict[str, int | str]):
    """An ``inspect`` giving each stored file (by name) its page count, or an error string."""

    def inspect(path: Path) -> tuple[int, str]:
        found = counts[path.name]
        return (0, f"{path}: {found}") if isinstance(found, str) else (found, "")

    return inspect


def record(name: str, page: int, total: int, status: str = "ok", kind: str = "OCRError"):
    """A page record as the dispatcher writes it: document is the job file's name."""
    rec = {"id": f"{name}#{page}", "document": name, "page": page, "pages": total,
           "status": status, "markdown": f"page {page} of {name}"}  # fmt: skip
    if status != "ok":
        rec["error"] = {"type": kind, "message": "bad page", "stage": "ocr"}
    return rec


def new_job(store: JobStore, tmp_path: Path, counts: dict[str, int | str]) -> Job:
    files = [(name, upload(tmp_path)) for name in counts]
    return store.create(files, {"pipeline": "ocr", "dpi": 200.0}, pages(counts))


def test_awkward_upload_names_become_safe_unique_names_inside_inputs(tmp_path):
    store = JobStore(tmp_path / "store")
    raw = ["../../etc/passwd", "a/b\\c.pdf", "", "x" * 300, "same.pdf", "same.pdf", "SAME.pdf",
           "evil\x00\x1b\u202e.pdf", "..", "x" * 300, "...pdf", " .hidden. "]  # fmt: skip
    temps = [upload(tmp_path) for _ in raw]
    job = store.create(list(zip(raw, temps, strict=True)), {}, lambda path: (1, ""))
    names = [f.name for f in job.files]
    assert names == ["passwd", "c.pdf", "upload", "x" * 200, "same.pdf", "same (2).pdf",
                     "SAME (3).pdf", "evil.pdf", "upload (2)", "x" * 196 + " (2)", "pdf",
                     "hidden"]  # fmt: skip
    inputs = store.job_dir(job.id) / "inputs"
    for file in job.files:
        assert file.path == inputs / file.name and file.path.is_file()
        assert 0 < len(file.name) <= 200 and ".." not in file.name and "/" not in file.name
    assert sorted(p.name for p in inputs.iterdir()) == sorted(names)
    assert not any(t.exists() for t in temps)  # moved, not copied
    assert not (tmp_path / "etc").exists() and not (tmp_path / "store" / "etc").exists()


def test_long_non_ascii_names_keep_their_suffix_within_200_bytes():
    name = safe_name("é" * 300 + ".pdf")
    assert name.endswith("é.pdf") and len(name.encode("utf-8")) <= 200


def test_bad_ids_find_nothing_and_name_no_path(tmp_path):
    store = JobStore(tmp_path)
    new_job(store, tmp_path, {"a.pdf": 1})
    for bad in ["", "../../etc/passwd", "0" * 15, "0" * 17, "g" * 16, "A" * 16, "../" + "0" * 13]:
        assert store.get(bad) is None
        assert list(store.records(bad)) == [] and store.done_ids(bad) == set()
        assert store.markdown_file(bad, "a.pdf") is None
        assert store.delete(bad) is False
        with pytest.raises(ValueError, match="not a job id"):
            store.job_dir(bad)
    assert store.get("0" * 16) is None  # well formed, unknown


def test_create_is_all_or_nothing_when_inspect_raises(tmp_path):
    store = JobStore(tmp_path / "store")

    def inspect(path: Path) -> tuple[int, str]:
        if path.name == "second.pdf":
            raise OSError("disk gone")
        return 1, ""

    files = [("first.pdf", upload(tmp_path)), ("second.pdf", upload(tmp_path))]
    with pytest.raises(OSError, match="disk gone"):
        store.create(files, {}, inspect)
    assert store.jobs() == []
    assert list((tmp_path / "store" / "jobs").iterdir()) == []
    with pytest.raises(ValueError, match="at least one file"):
        store.create([], {}, inspect)
    with pytest.raises(TypeError):
        store.create([("a.pdf", upload(tmp_path))], {"bad": object()}, inspect)
    assert list((tmp_path / "store" / "jobs").iterdir()) == []


def test_records_until_done_count_pages_and_write_markdown(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 2, "b.bin": "not a PDF or an image"})
    assert [(f.pages, f.error) for f in job.files] == [(2, ""), (0, "b.bin: not a PDF or an image")]
    assert (job.status, job.pages_total, job.pages_done) == ("queued", 3, 0)
    running = store.set_status(job.id, "running")
    assert running.started is not None and running.ended is None

    job = store.add_record(job.id, record("a.pdf", 1, 2))
    assert (job.pages_done, job.pages_failed, job.status) == (1, 0, "running")
    assert store.markdown_file(job.id, "a.pdf") is None  # not all pages in yet
    job = store.add_record(job.id, record("a.pdf", 2, 2, status="error"))
    job = store.add_record(job.id, record("a.pdf", 2, 2))  # a repeat is ignored
    assert (job.pages_done, job.pages_failed, job.failures) == (2, 1, {"OCRError": 1})
    markdown = store.markdown_file(job.id, "a.pdf")
    assert markdown == store.job_dir(job.id) / "documents" / "a.pdf.md"
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("# a.pdf\n") and "page 1 of a.pdf" in text
    assert "page 2 failed: OCRError: bad page" in text

    assert job.partial is False and job.to_dict()["partial"] is False  # still running
    job = store.add_record(job.id, record("b.bin", 0, 0, status="error", kind="not-a-document"))
    assert job.status == "done" and job.ended is not None and job.ended >= job.started
    assert job.partial is True and job.to_dict()["partial"] is True  # done, with failed pages
    assert (job.pages_done, job.pages_failed) == (3, 2)
    assert job.failures == {"OCRError": 1, "not-a-document": 1}
    assert store.get(job.id) == job
    assert store.markdown_file(job.id, "b.bin") is None  # nothing to write for an unread file
    assert store.markdown_file(job.id, "../a.pdf") is None
    with pytest.raises(ValueError, match="needs id"):
        store.add_record(job.id, {"document": "a.pdf", "page": 1})
    with pytest.raises(KeyError):
        store.add_record("0" * 16, record("a.pdf", 1, 2))


def test_records_since_skips_the_first_ones(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 3})
    for page in (1, 2, 3):
        store.add_record(job.id, record("a.pdf", page, 3))
    assert [r["id"] for r in store.records(job.id)] == ["a.pdf#1", "a.pdf#2", "a.pdf#3"]
    assert [r["id"] for r in store.records(job.id, since=2)] == ["a.pdf#3"]
    assert list(store.records(job.id, since=5)) == []
    assert store.done_ids(job.id) == {"a.pdf#1", "a.pdf#2", "a.pdf#3"}


def test_recover_counts_lines_sqlite_missed_and_requeues_running_jobs(tmp_path):
    root = tmp_path / "store"
    store = JobStore(root)
    first = new_job(store, tmp_path, {"a.pdf": 3})
    second = new_job(store, tmp_path, {"b.pdf": 1})
    finished = new_job(store, tmp_path, {"c.pdf": 1})
    store.set_status(first.id, "running")
    store.add_record(first.id, record("a.pdf", 1, 3))
    store.add_record(finished.id, record("c.pdf", 1, 1))
    # killed after writing a line but before counting it, then mid-way through the next line
    with JsonlSink(store.job_dir(first.id) / "pages.jsonl", resume=True) as sink:
        sink.write(record("a.pdf", 2, 3, status="error"))
    with open(store.job_dir(first.id) / "pages.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "a.pdf#3", "docu')

    store = JobStore(root)  # a new server on the same files
    assert store.get(first.id).pages_done == 1
    queued = store.recover()
    assert [job.id for job in queued] == [first.id, second.id]
    first_now = store.get(first.id)
    assert (first_now.status, first_now.pages_done, first_now.pages_failed) == ("queued", 2, 1)
    assert first_now.failures == {"OCRError": 1} and first_now.started is not None
    assert store.get(finished.id).status == "done"
    assert store.done_ids(first.id) == {"a.pdf#1", "a.pdf#2"}

    job = store.add_record(first.id, record("a.pdf", 3, 3))
    assert (job.status, job.pages_done) == ("done", 3)
    text = store.markdown_file(first.id, "a.pdf").read_text(encoding="utf-8")
    assert "page 1 of a.pdf" in text and "page 2 failed" in text and "page 3 of a.pdf" in text
    assert len((store.job_dir(first.id) / "pages.jsonl").read_text().splitlines()) == 3


def test_recover_finishes_a_job_whose_last_line_was_written_but_not_counted(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 2})
    store.set_status(job.id, "running")
    store.add_record(job.id, record("a.pdf", 1, 2))
    with JsonlSink(store.job_dir(job.id) / "pages.jsonl", resume=True) as sink:
        sink.write(record("a.pdf", 2, 2))  # killed before the count and the Markdown
    store = JobStore(tmp_path)
    assert store.recover() == []
    done = store.get(job.id)
    assert (done.status, done.pages_done) == ("done", 2) and done.ended is not None
    assert "page 2 of a.pdf" in store.markdown_file(job.id, "a.pdf").read_text(encoding="utf-8")


def test_recover_removes_folders_left_without_a_job(tmp_path):
    store = JobStore(tmp_path)
    kept = new_job(store, tmp_path, {"a.pdf": 1})
    orphan = tmp_path / "jobs" / ("f" * 16)  # a create killed before its row was written
    (orphan / "inputs").mkdir(parents=True)
    other = tmp_path / "jobs" / "not-a-job"
    other.mkdir()
    store.recover()
    assert not orphan.exists() and other.exists() and store.job_dir(kept.id).exists()


def test_status_changes_stamp_times_and_reject_unknown_states(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 1})
    started = store.set_status(job.id, "running").started
    time.sleep(0.01)
    store.set_status(job.id, "queued")
    again = store.set_status(job.id, "running")
    assert again.started == started and again.ended is None
    failed = store.set_status(job.id, "failed", error="the models did not load")
    assert failed.ended is not None and failed.error == "the models did not load"
    assert [j.id for j in store.jobs(["failed"])] == [job.id]
    assert store.jobs(["queued", "running"]) == [] and store.jobs([]) == []
    cancelled = store.set_status(new_job(store, tmp_path, {"b.pdf": 1}).id, "cancelled")
    late = store.set_status(cancelled.id, "running")  # a page that finished after the cancel
    assert late.status == "cancelled" and late.ended == cancelled.ended
    with pytest.raises(ValueError, match="valid: queued, running"):
        store.set_status(job.id, "paused")
    with pytest.raises(KeyError):
        store.set_status("0" * 16, "running")


def test_expire_deletes_jobs_that_ended_long_enough_ago(tmp_path):
    store = JobStore(tmp_path)
    done = new_job(store, tmp_path, {"a.pdf": 1})
    cancelled = new_job(store, tmp_path, {"b.pdf": 1})
    queued = new_job(store, tmp_path, {"c.pdf": 1})
    done = store.add_record(done.id, record("a.pdf", 1, 1))
    cancelled = store.set_status(cancelled.id, "cancelled")
    assert store.expire(1, now=done.ended + 3599) == 0
    assert store.expire(1, now=cancelled.ended + 3601) == 2
    assert [job.id for job in store.jobs()] == [queued.id]
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [queued.id]


def test_delete_removes_row_and_folder(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 2})
    store.add_record(job.id, record("a.pdf", 1, 2))
    assert store.delete(job.id) is True
    assert store.get(job.id) is None and not store.job_dir(job.id).exists()
    assert store.delete(job.id) is False
    with pytest.raises(KeyError):  # a page finishing after the delete writes nothing
        store.add_record(job.id, record("a.pdf", 2, 2))
    assert not store.job_dir(job.id).exists()


def test_records_from_four_threads_are_all_counted(tmp_path):
    store = JobStore(tmp_path)
    names = [f"doc{i}.pdf" for i in range(4)]
    job = new_job(store, tmp_path, dict.fromkeys(names, 50))
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            for page in range(1, 51):
                status = "error" if page % 10 == 0 else "ok"
                store.add_record(job.id, record(name, page, 50, status=status))
                store.get(job.id)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    done = store.get(job.id)
    assert (done.status, done.pages_done, done.pages_failed) == ("done", 200, 20)
    assert done.failures == {"OCRError": 20}
    assert len(store.done_ids(job.id)) == 200 and len(list(store.records(job.id))) == 200
    assert all(store.markdown_file(job.id, name) is not None for name in names)


def test_to_dict_is_json_ready_and_shows_no_server_paths(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 2, "b.bin": "not a document"})
    job = store.set_status(job.id, "running")
    data = json.loads(json.dumps(store.get(job.id).to_dict()))
    assert str(tmp_path) not in json.dumps(data)
    assert data["id"] == job.id and data["status"] == "running"
    assert data["options"] == {"pipeline": "ocr", "dpi": 200.0}
    assert data["files"] == [
        {"name": "a.pdf", "pages": 2, "error": ""},
        {"name": "b.bin", "pages": 0, "error": "b.bin: not a document"},
    ]
    assert data["pages"] == {"total": 3, "done": 0, "failed": 0}
    assert data["ended"] is None and data["failures"] == {} and data["error"] == ""
    created = datetime.fromisoformat(data["created"])
    assert created.utcoffset().total_seconds() == 0
    assert abs(created.timestamp() - job.created) < 1


def test_a_footer_the_pages_repeat_leaves_the_markdown_unless_kept(tmp_path):
    def footed(page: int) -> dict:
        foot = {"type": "text", "bbox": [480, 1040, 520, 1060], "text": "Acme Corp. Confidential.",
                "edge": "bottom"}  # fmt: skip
        return record("a.pdf", page, 2) | {
            "height": 1100,
            "blocks": [foot],
            "markdown": f"page {page}\n\nAcme Corp. Confidential.",
        }

    for keep in (False, True):
        store = JobStore(tmp_path / str(keep), keep_furniture=keep)
        job = new_job(store, tmp_path, {"a.pdf": 2})
        store.add_record(job.id, footed(1))
        store.add_record(job.id, footed(2))
        written = (store.job_dir(job.id) / "pages.jsonl").read_text(encoding="utf-8")
        lines = [json.loads(line) for line in written.splitlines()]
        assert [r["blocks"][0]["type"] for r in lines] == ["text", "footer"]
        text = store.markdown_file(job.id, "a.pdf").read_text(encoding="utf-8")
        assert text.count("Acme Corp. Confidential.") == (2 if keep else 0)


def test_a_table_going_on_from_the_page_before_is_marked_in_pages_jsonl(tmp_path):
    def tabled(page: int, rows: str) -> dict:
        table = {"type": "table", "bbox": [100, 100, 900, 900], "text": rows, "cols": 3}
        return record("a.pdf", page, 3) | {"blocks": [table], "markdown": rows}

    store = JobStore(tmp_path)
    job = new_job(store, tmp_path, {"a.pdf": 3})
    for page in (1, 2, 3):
        store.add_record(job.id, tabled(page, f"a{page}\tb\tc"))
    lines = list(store.records(job.id))
    assert [b.get("continues") for r in lines for b in r["blocks"]] == [None, 1, 1]
    reopened = JobStore(tmp_path)  # marks rebuilt from pages.jsonl, not repeated
    assert [r["blocks"][0].get("continues") for r in reopened.records(job.id)] == [None, 1, 1]


def test_a_clean_job_is_not_partial_and_its_owner_survives_a_reopen(tmp_path):
    store = JobStore(tmp_path)
    owner = "ab" * 32
    job = store.create([("a.pdf", upload(tmp_path))], {}, pages({"a.pdf": 1}), owner=owner)
    job = store.add_record(job.id, record("a.pdf", 1, 1))
    assert job.status == "done" and job.partial is False
    again = JobStore(tmp_path).get(job.id)
    assert again is not None and again.owner == owner and again.partial is False
    assert "owner" not in again.to_dict()

"""``docfleet run``'s contract with its output folder, with real processes: one writer at a
time, settings fingerprints, changed documents, skipped files, links, a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from docs_factory import (
    one_column_page,
    reportlab_pdf,
    scanned_pdf,
    slow_render_pdf,
    table_page,
    two_column_page,
)

CPU = ("--devices", "cpu", "--no-progress")


@pytest.fixture
def docfleet(cli):
    """``docfleet run ARGS`` run to the end, in four minutes at most."""
    return partial(cli, "run", timeout=240)


@pytest.fixture
def start(cli):
    """``docfleet run ARGS`` started in a session of its own, its output piped."""
    return partial(cli.start, "run", start_new_session=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)  # fmt: skip


def ids(out: Path) -> Counter[str]:
    lines = (out / "pages.jsonl").read_text().splitlines()
    return Counter(json.loads(line)["id"] for line in lines)


def holds_lock(out: Path, pid: int, timeout: float = 60) -> None:
    """Wait until process ``pid`` has written itself into OUT's lock file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((out / ".lock").read_text() or "{}").get("pid") == pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("the run never took its lock")


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(3):
        scanned_pdf(folder / f"scan{i}.pdf", text=f"PAGE {i}")
    return folder


def test_a_second_run_into_a_folder_in_use_refuses_and_each_page_is_written_once(
    start, docfleet, scans, tmp_path
):
    out = tmp_path / "out"
    first = start(str(scans), "-o", str(out), "--replicas", "1", *CPU)
    holds_lock(out, first.pid)
    second = docfleet(str(scans), "-o", str(out), *CPU, timeout=60)
    assert second.returncode == 2
    assert f"in use by pid {first.pid}" in second.stderr and "--wait" in second.stderr
    assert "Traceback" not in second.stderr
    waiting = start(str(scans), "-o", str(out), "--wait", *CPU)
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    _, err = waiting.communicate(timeout=240)
    assert waiting.returncode == 0 and "waiting:" in err, err
    counts = ids(out)
    assert len(counts) == 3 and set(counts.values()) == {1}
    assert json.loads((out / "run.json").read_text())["counts"]["kept"] == 3


def test_a_killed_run_leaves_no_lock_that_blocks_the_next(start, docfleet, scans, tmp_path):
    out = tmp_path / "out"
    first = start(str(scans), "-o", str(out), "--replicas", "1", *CPU)
    holds_lock(out, first.pid)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    again = docfleet(str(scans), "-o", str(out), *CPU)
    assert again.returncode == 0, again.stderr
    assert set(ids(out).values()) == {1} and len(ids(out)) == 3


def test_other_page_settings_are_refused_naming_what_differs(docfleet, tmp_path):
    reportlab_pdf(tmp_path / "a.pdf", [one_column_page(), table_page()])
    out = tmp_path / "out"
    assert docfleet(str(tmp_path / "a.pdf"), "-o", str(out), *CPU).returncode == 0
    other = docfleet(str(tmp_path / "a.pdf"), "-o", str(out), "--dpi", "300", "--ocr", "never",
                     *CPU)  # fmt: skip
    assert other.returncode == 2
    assert "dpi 150.0 -> 300.0" in other.stderr and "ocr auto -> never" in other.stderr
    assert "--no-resume" in other.stderr and len(ids(out)) == 2
    over = docfleet(str(tmp_path / "a.pdf"), "-o", str(out), "--dpi", "300", "--no-resume", *CPU)
    assert over.returncode == 0, over.stderr
    assert {json.loads(line)["dpi"] for line in (out / "pages.jsonl").read_text().splitlines()} \
        == {300}  # fmt: skip


def test_an_output_path_that_is_a_file_and_bad_inputs_create_nothing(docfleet, tmp_path):
    reportlab_pdf(tmp_path / "a.pdf", [one_column_page()])
    (tmp_path / "taken").write_text("not a folder")
    proc = docfleet(str(tmp_path / "a.pdf"), "-o", str(tmp_path / "taken"), *CPU)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and str(tmp_path / "taken") in proc.stderr
    for bad in (["missing.pdf"], ["a.pdf", "--devices", "cuda:3"]):
        args = [str(tmp_path / bad[0]), *bad[1:]]
        proc = docfleet(*args, "-o", str(tmp_path / "never"), "--no-progress")
        assert proc.returncode == 2, proc.stderr
        assert not (tmp_path / "never").exists()


def test_a_document_changed_between_runs_is_redone(docfleet, tmp_path):
    doc = reportlab_pdf(tmp_path / "doc.pdf", [one_column_page()])
    reportlab_pdf(tmp_path / "same.pdf", [table_page()])
    out = tmp_path / "out"
    assert docfleet(str(tmp_path), "-o", str(out), *CPU).returncode == 0
    reportlab_pdf(doc, [two_column_page()])  # same path, other bytes
    proc = docfleet(str(tmp_path), "-o", str(out), *CPU)
    assert proc.returncode == 0, proc.stderr
    records = {json.loads(line)["id"]: json.loads(line)
               for line in (out / "pages.jsonl").read_text().splitlines()}  # fmt: skip
    assert set(ids(out).values()) == {1}
    assert "Left column line 0" in records[f"{doc}#1"]["text"]
    run = json.loads((out / "run.json").read_text())
    assert run["redone"]["changed_documents"] == [str(doc)] and run["counts"]["kept"] == 1
    assert "Left column" in (out / "documents" / "doc.pdf.md").read_text()


def test_failed_pages_are_kept_unless_retried(docfleet, tmp_path):
    slow_render_pdf(tmp_path / "slow.pdf", segments=100_000)  # about 3.5 s to render
    out = tmp_path / "out"
    args = [str(tmp_path / "slow.pdf"), "-o", str(out), "--pipeline", "ocr", *CPU]
    assert docfleet(*args, "--page-timeout", "1").returncode == 1
    again = docfleet(*args, "--page-timeout", "120")
    assert again.returncode == 0, again.stderr  # the failed page is kept as it was
    assert json.loads((out / "pages.jsonl").read_text())["error"]["type"] == "Timeout"
    retry = docfleet(*args, "--page-timeout", "120", "--retry-failed")
    assert retry.returncode == 0, retry.stderr
    (line,) = (out / "pages.jsonl").read_text().splitlines()
    assert json.loads(line)["status"] == "ok"
    assert json.loads((out / "run.json").read_text())["redone"]["retried"] == 1


def test_a_document_that_opens_now_replaces_its_error_line(docfleet, tmp_path):
    reportlab_pdf(tmp_path / "locked.pdf", [one_column_page()], encrypt="s3cret")
    out = tmp_path / "out"
    assert docfleet(str(tmp_path / "locked.pdf"), "-o", str(out), *CPU).returncode == 1
    again = docfleet(str(tmp_path / "locked.pdf"), "-o", str(out), "--password", "s3cret", *CPU)
    assert again.returncode == 0, again.stderr
    (line,) = (out / "pages.jsonl").read_text().splitlines()  # one line for one page
    assert json.loads(line)["status"] == "ok" and json.loads(line)["page"] == 1
    assert "s3cret" not in (out / "run.json").read_text()


def test_files_in_a_folder_that_are_no_documents_are_skipped_not_failed(docfleet, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    reportlab_pdf(src / "a.pdf", [one_column_page()])
    (src / "README.md").write_text("# notes\n")
    (src / "manifest.json").write_text("{}\n")
    (src / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (src / "broken.pdf").write_text("not really a pdf")  # named like one: stays an error
    out = tmp_path / "out"
    proc = docfleet(str(src), "-o", str(out), *CPU)
    assert proc.returncode == 1, proc.stderr  # broken.pdf
    run = json.loads((out / "run.json").read_text())
    assert {Path(s["path"]).name for s in run["skipped"]} == {"README.md", "manifest.json"}
    assert run["counts"]["failed"] == 1 and "skipped files" in proc.stderr
    (src / "broken.pdf").unlink()
    assert docfleet(str(src), "-o", str(tmp_path / "o2"), *CPU).returncode == 0
    named = docfleet(str(src / "README.md"), "-o", str(tmp_path / "o3"), *CPU)
    assert named.returncode == 1  # named on the command line: an error record


def test_links_to_folders_are_not_followed_and_a_loop_is_walked_once(docfleet, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    reportlab_pdf(src / "sub" / "a.pdf", [one_column_page()])
    (src / "sub" / "up").symlink_to(src, target_is_directory=True)  # a loop
    out = tmp_path / "out"
    proc = docfleet(str(src), "-o", str(out), *CPU)
    assert proc.returncode == 0, proc.stderr
    assert list(ids(out)) == [f"{src / 'sub' / 'a.pdf'}#1"]
    run = json.loads((out / "run.json").read_text())
    assert [Path(s["path"]).name for s in run["skipped"]] == ["up"]
    followed = docfleet(str(src / "sub"), "-o", str(tmp_path / "o2"), "--follow-links", *CPU)
    assert followed.returncode == 0, followed.stderr
    assert len(ids(tmp_path / "o2")) == 1  # a.pdf once, though the loop reaches it again


def test_a_full_disk_is_one_clear_error_and_the_run_resumes_once_there_is_room(docfleet, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        pages = [one_column_page(), two_column_page(), table_page()] * 20
        reportlab_pdf(tmp_path / "long.pdf", pages)
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (400 * 1024 - 40 * 1024))  # about 40 KB left
        out = disk / "out"
        full = docfleet(str(tmp_path / "long.pdf"), "-o", str(out), *CPU)
        assert full.returncode == 1, full.stderr
        assert "no space left" in full.stderr and "run the same command again" in full.stderr
        assert "Traceback" not in full.stderr
        written = (out / "pages.jsonl").read_text()
        lines = written.splitlines()
        assert 0 < len(lines) < 60
        for line in lines[:-1]:
            json.loads(line)  # every line before the last is whole
        filler.unlink()
        again = docfleet(str(tmp_path / "long.pdf"), "-o", str(out), *CPU)
        assert again.returncode == 0, again.stderr
        counts = ids(out)
        assert len(counts) == 60 and set(counts.values()) == {1}
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_ctrl_c_finishes_the_page_in_progress_starts_no_other_and_says_what_is_left(
    start, docfleet, tmp_path
):
    src = tmp_path / "scans"
    src.mkdir()
    for i in range(6):
        scanned_pdf(src / f"scan{i}.pdf", text=f"PAGE {i}")
    out = tmp_path / "out"
    run = start(str(src), "-o", str(out), "--replicas", "1", "--batch-size", "1",
                "--pipeline", "ocr", *CPU)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (out / "pages.jsonl").exists() and (out / "pages.jsonl").read_text().count("\n"):
            break
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)  # once: finish the page in progress
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    written = len(ids(out))
    assert 1 <= written <= 2  # the page done, and the one in progress at the signal
    assert f"{6 - written} pages not run" in err
    counts = json.loads((out / "run.json").read_text())["counts"]
    assert counts["not_run"] == 6 - written and counts["ok"] == written
    again = docfleet(str(src), "-o", str(out), "--replicas", "1", "--pipeline", "ocr", *CPU)
    assert again.returncode == 0, again.stderr
    assert len(ids(out)) == 6 and set(ids(out).values()) == {1}

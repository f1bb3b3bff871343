"""``docfleet run`` end to end: real PDFs and images, real models, real processes.

One mixed folder of good and bad inputs is processed once per module; the tests read its outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from docs_factory import (
    bomb_png,
    empty_pdf,
    huge_page_pdf,
    one_column_page,
    reportlab_pdf,
    scanned_pdf,
    slow_render_pdf,
    table_page,
    truncated,
    two_column_page,
)


@pytest.fixture(scope="module")
def docfleet(cli):
    """The command run to the end, in four minutes at most."""
    return partial(cli, timeout=240)


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "pages.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def mixed(docfleet, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    src = root / "in"
    (src / "sub dir").mkdir(parents=True)
    good = reportlab_pdf(src / "report.pdf", [one_column_page(), two_column_page(), table_page()])
    scanned_pdf(src / "sub dir" / "scan one.pdf")
    shutil.copy(good, src / "résumé 2024.pdf")
    shutil.copy(good, src / "line\nbreak.pdf")
    truncated(good, src / "truncated.pdf", 0.5)
    (src / "zero.pdf").write_bytes(b"")
    (src / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    (src / "notes.pdf").write_text("this is plain text, not a PDF\n" * 20)
    empty_pdf(src / "empty.pdf")
    reportlab_pdf(src / "locked.pdf", [one_column_page()], encrypt="s3cret")
    huge_page_pdf(src / "huge.pdf")
    bomb_png(src / "bomb.png")
    out = root / "out"
    args = [str(src), "-o", str(out), "--devices", "cpu", "--replicas", "2", "--no-progress"]
    proc = docfleet("run", *args, "--max-pixels", "4000000")
    return src, out, proc


def test_every_input_ends_as_pages_or_one_error_and_the_exit_code_says_so(mixed):
    _, out, proc = mixed
    assert proc.returncode == 1, proc.stderr
    recs = records(out)
    ids = [r["id"] for r in recs]
    assert len(ids) == len(set(ids))  # nothing duplicated
    by_doc = Counter(Path(r["document"]).name for r in recs)
    assert by_doc == {
        "report.pdf": 3, "résumé 2024.pdf": 3, "line\nbreak.pdf": 3, "scan one.pdf": 1,
        "truncated.pdf": 1, "zero.pdf": 1, "corrupt.pdf": 1, "notes.pdf": 1, "empty.pdf": 1,
        "locked.pdf": 1, "huge.pdf": 1, "bomb.png": 1,
    }  # fmt: skip
    errors = {Path(r["document"]).name: r["error"]["type"] for r in recs if r["status"] == "error"}
    assert errors == {
        "truncated.pdf": "unreadable",
        "zero.pdf": "empty",
        "corrupt.pdf": "unreadable",
        "notes.pdf": "not-a-document",
        "empty.pdf": "empty",
        "locked.pdf": "encrypted",
        "bomb.png": "decompression-bomb",
    }
    locked = next(r for r in recs if r["document"].endswith("locked.pdf"))
    assert "--password" in locked["error"]["message"]
    assert "failed: encrypted" in proc.stderr and "pages" in proc.stderr
    assert "text from" in proc.stderr and "(cascade on onnxruntime)" in proc.stderr


def test_pages_carry_text_blocks_and_where_the_text_came_from(mixed):
    _, out, _ = mixed
    recs = {(Path(r["document"]).name, r["page"]): r for r in records(out) if r["status"] == "ok"}
    first = recs[("report.pdf", 1)]
    assert first["text_source"] == "text-layer"
    assert first["text"].startswith("Annual Report 2024")
    assert first["blocks"][0]["type"] == "title"
    assert first["device"] == "cpu" and first["dpi"] == 150
    columns = recs[("report.pdf", 2)]["text"]
    assert columns.index("Left column line 4") < columns.index("Right column line 0")
    table = recs[("report.pdf", 3)]["text"]
    assert "Apples" in table and "9.99" in table
    scan = recs[("scan one.pdf", 1)]
    assert scan["text_source"] == "ocr" and "ocr" in scan["seconds"]
    assert "SCANNED PAGE" in scan["text"]
    huge = recs[("huge.pdf", 1)]
    assert huge["downscaled"] and huge["width"] * huge["height"] <= 4_000_000


def test_markdown_per_document_and_run_json(mixed):
    src, out, _ = mixed
    md = (out / "documents" / "report.pdf.md").read_text()
    assert md.startswith("# report.pdf") and "## Annual Report 2024" in md
    assert (out / "documents" / "sub dir" / "scan one.pdf.md").exists()
    assert (out / "documents" / "line\nbreak.pdf.md").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["counts"] == {
        "pages": 18, "ok": 11, "failed": 7, "kept": 0, "not_run": 0, "skipped_files": 0
    }  # fmt: skip
    assert run["inputs"] == [str(src)] and run["output"] == str(out)
    assert run["ended"] >= run["started"]
    assert run["command"].startswith("docfleet run ") and run["page_settings"]["dpi"] == 150
    assert run["config"]["max_pixels"] == 4_000_000 and run["config"]["password"] is None
    assert run["stats"]["devices"][0]["device"] == "cpu"
    assert run["stats"]["devices"][0]["replicas"] == 2
    assert sum(run["failures"].values()) == 7
    by_source = Counter(r["text_source"] for r in records(out) if r["status"] == "ok")
    assert run["text_sources"] == dict(by_source) and sum(by_source.values()) == 11
    ocr_pages = [r for r in records(out) if r["status"] == "ok" and r.get("ocr")]
    assert run["ocr_models"] == {"cascade on onnxruntime": len(ocr_pages)} and ocr_pages


def test_rerunning_a_finished_job_does_no_model_work(docfleet, mixed):
    src, out, _ = mixed
    before = (out / "pages.jsonl").read_text()
    proc = docfleet("run", str(src), "-o", str(out), "--devices", "cpu", "--no-progress",
                    "--max-pixels", "4000000")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "pages.jsonl").read_text() == before
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["kept"] == 18 and run["stats"]["items"] == 0


def test_password_from_the_config_file_opens_the_pdf(docfleet, tmp_path):
    reportlab_pdf(tmp_path / "locked.pdf", [one_column_page()], encrypt="s3cret")
    (tmp_path / "run.yml").write_text("password: s3cret\ndevices: cpu\nprogress: false\n")
    out = tmp_path / "out"
    proc = docfleet("run", str(tmp_path / "locked.pdf"), "-o", str(out), "--config",
                    str(tmp_path / "run.yml"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert records(out)[0]["text"].startswith("Annual Report 2024")
    assert "s3cret" not in (out / "run.json").read_text()


def test_page_timeout_fails_the_slow_page_and_the_run_goes_on(docfleet, tmp_path):
    slow_render_pdf(tmp_path / "slow.pdf", segments=1_500_000)  # about 45 s to render
    reportlab_pdf(tmp_path / "fine.pdf", [one_column_page()])  # its text layer: milliseconds
    out = tmp_path / "out"
    proc = docfleet("run", str(tmp_path), "-o", str(out), "--devices", "cpu", "--page-timeout",
                    "6", "--pipeline", "ocr", "--no-progress")  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    status = {Path(r["document"]).name: r for r in records(out)}
    assert status["slow.pdf"]["error"]["type"] == "Timeout"
    assert status["fine.pdf"]["status"] == "ok"


def test_killed_run_resumes_without_losing_or_duplicating_pages(cli, docfleet, tmp_path):
    for i in range(3):
        scanned_pdf(tmp_path / f"scan{i}.pdf", text=f"PAGE {i}")
    out = tmp_path / "out"
    args = [str(tmp_path), "-o", str(out), "--devices", "cpu", "--replicas", "1", "--batch-size",
            "1", "--no-progress"]  # fmt: skip
    with cli.start("run", *args, start_new_session=True, stderr=subprocess.DEVNULL) as proc:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (out / "pages.jsonl").exists() and (out / "pages.jsonl").read_text().count("\n"):
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    done_before = len(records(out))
    assert 1 <= done_before < 3
    proc2 = docfleet("run", str(tmp_path), "-o", str(out), "--devices", "cpu", "--no-progress")
    assert proc2.returncode == 0, proc2.stderr
    ids = [r["id"] for r in records(out)]
    assert sorted(ids) == sorted({r["id"] for r in records(out)})
    assert len(ids) == 3
    assert json.loads((out / "run.json").read_text())["counts"]["kept"] == done_before


def test_usage_errors_exit_2_with_the_fix(docfleet, tmp_path):
    proc = docfleet("run", str(tmp_path / "missing"), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "missing" in proc.stderr
    proc = docfleet("run", str(tmp_path))
    assert proc.returncode == 2 and "-o OUT" in proc.stderr
    (tmp_path / "bad.yml").write_text("dpi: 200\ncolour: blue\n")
    proc = docfleet("run", str(tmp_path), "-o", str(tmp_path / "o"), "--config",
                    str(tmp_path / "bad.yml"))  # fmt: skip
    assert proc.returncode == 2 and "colour" in proc.stderr and "valid keys" in proc.stderr
    reportlab_pdf(tmp_path / "a.pdf", [one_column_page()])
    proc = docfleet(
        "run", str(tmp_path / "a.pdf"), "-o", str(tmp_path / "o"), "--devices", "cuda:1"
    )
    assert proc.returncode == 2 and "cuda:1 is not available" in proc.stderr


def test_print_config_shows_the_cascade(docfleet, tmp_path):
    (tmp_path / "run.yml").write_text("dpi: 200\nocr: never\n")
    env = {**os.environ, "DOCFLEET_PAGE_TIMEOUT": "45"}
    proc = docfleet("run", "--config", str(tmp_path / "run.yml"), "--ocr", "always",
                    "--print-config", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "dpi: 200" in proc.stdout and "ocr: always" in proc.stdout
    assert "page_timeout: 45" in proc.stdout

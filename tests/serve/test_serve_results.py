"""A job's results over HTTP: Markdown rendered safely, JSON lines and a zip to download."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")
requests = pytest.importorskip("requests")

from docs_factory import Span, one_column_page, reportlab_pdf  # noqa: E402

HOSTILE = "<script>alert(1)</script> and <img src=x onerror=alert(2)> in the text"


def _submit(server, key: str, *paths: Path, **form: str) -> str:
    files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in paths]
    r = requests.post(f"{server.url}/v1/jobs", files=files, data=form,
                      headers={"X-Api-Key": key}, timeout=30)  # fmt: skip
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _get(server, key: str, path: str) -> requests.Response:
    return requests.get(f"{server.url}{path}", headers={"X-Api-Key": key}, timeout=30)


def _wait_done(server, key: str, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = _get(server, key, f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise TimeoutError(job_id)


def test_results_download_as_json_lines_and_a_zip(
    keyed_server, api_keys, damaged_pdf: Path, tmp_path: Path
) -> None:
    server, key = keyed_server, api_keys.ann
    report = reportlab_pdf(tmp_path / "report.pdf", [one_column_page()])
    job = _submit(server, key, report, damaged_pdf)
    assert _wait_done(server, key, job)["partial"] is True

    lines = _get(server, key, f"/v1/jobs/{job}/results.jsonl")
    assert lines.status_code == 200
    assert lines.headers["content-disposition"] == f'attachment; filename="{job}.jsonl"'
    assert lines.text == _get(server, key, f"/v1/jobs/{job}/pages").text
    assert {json.loads(line)["id"] for line in lines.text.splitlines()} == {
        "report.pdf#1", "page_tree_cycle.pdf#1", "page_tree_cycle.pdf#2"}  # fmt: skip

    archive = _get(server, key, f"/v1/jobs/{job}/results.zip")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert archive.headers["content-disposition"] == f'attachment; filename="{job}.zip"'
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = set(zipped.namelist())
        assert names == {"pages.jsonl", "documents/report.pdf.md",
                         "documents/page_tree_cycle.pdf.md"}  # fmt: skip
        stored = zipped.read("pages.jsonl").decode().splitlines()
        assert [json.loads(line) for line in stored] == [
            json.loads(line) for line in lines.text.splitlines()]  # fmt: skip
        markdown = _get(server, key, f"/v1/jobs/{job}/documents/report.pdf.md").text
        assert zipped.read("documents/report.pdf.md").decode() == markdown
        assert "Annual Report 2024" in markdown


def test_the_zip_waits_for_the_job_to_end(keyed_server, api_keys, two_page_scan: Path) -> None:
    server, key = keyed_server, api_keys.bob
    job = _submit(server, key, two_page_scan, ocr="always")  # seconds a page
    early = _get(server, key, f"/v1/jobs/{job}/results.zip")
    assert early.status_code == 409 and "ready when it ends" in early.json()["detail"]
    requests.delete(f"{server.url}/v1/jobs/{job}", headers={"X-Api-Key": key}, timeout=10)


def test_rendered_markdown_shows_a_documents_markup_as_text(
    keyed_server, api_keys, tmp_path: Path
) -> None:
    server, key = keyed_server, api_keys.ann
    spans = [Span("Annual Report 2024", 72, 700, "Helvetica-Bold", 20), Span(HOSTILE, 72, 640)]
    job = _submit(server, key, reportlab_pdf(tmp_path / "hostile.pdf", [spans]))
    _wait_done(server, key, job)
    markdown = _get(server, key, f"/v1/jobs/{job}/documents/hostile.pdf.md").text
    assert "<script>alert(1)</script>" in markdown  # the document says so; the page must not
    rendered = _get(server, key, f"/v1/jobs/{job}/documents/hostile.pdf.html")
    assert rendered.status_code == 200 and rendered.headers["content-type"].startswith("text/html")
    assert "sandbox" in rendered.headers["content-security-policy"]
    html = rendered.text
    assert html.startswith("<h1>hostile.pdf</h1>") and '<p class="page-mark">page 1</p>' in html
    assert "Annual Report 2024" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x" in html
    assert "<script" not in html and "<img" not in html

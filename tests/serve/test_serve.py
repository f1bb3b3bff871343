"""``docfleet serve``: a real server on loopback with real models, driven over HTTP."""

from __future__ import annotations

import http.client
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")
requests = pytest.importorskip("requests")

from docs_factory import one_column_page, reportlab_pdf, scanned_pdf  # noqa: E402

KEY = "test-key-0123"
AUTH = {"X-Api-Key": KEY}


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    reportlab_pdf(folder / "report.pdf", [one_column_page(), one_column_page()])
    scanned_pdf(folder / "scan.pdf")
    reportlab_pdf(folder / "long.pdf", [one_column_page()] * 60)
    reportlab_pdf(folder / "forty.pdf", [one_column_page()] * 40)
    return folder


@pytest.fixture(scope="module")
def server(serve_process, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    root = tmp_path_factory.mktemp("serve")
    srv = serve_process(root / "data", "--api-key", KEY, "--max-pages", "100", "--max-queue",
                        "50", "--max-upload-mb", "5").start()  # fmt: skip
    yield srv
    srv.stop()


def _submit(server, *paths: Path, **form: str) -> requests.Response:
    files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in paths]
    return requests.post(f"{server.url}/v1/jobs", files=files, data=form, headers=AUTH,
                         timeout=30)  # fmt: skip


def _wait_done(server, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{server.url}/v1/jobs/{job_id}", headers=AUTH, timeout=10).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise TimeoutError(job)


def _pages(server, job_id: str, since: int = 0) -> list[dict]:
    r = requests.get(f"{server.url}/v1/jobs/{job_id}/pages", params={"since": since},
                     headers=AUTH, timeout=10)  # fmt: skip
    assert r.status_code == 200
    return [json.loads(line) for line in r.text.splitlines()]


def test_a_job_gives_what_docfleet_run_gives(cli, server, docs: Path, tmp_path: Path) -> None:
    r = _submit(server, docs / "report.pdf", docs / "scan.pdf")
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["pages"] == 3
    done = _wait_done(server, job["id"])
    assert done["status"] == "done" and done["pages"] == {"total": 3, "done": 3, "failed": 0}
    assert done["partial"] is False
    served = {p["id"]: p for p in _pages(server, job["id"])}
    assert set(served) == {"report.pdf#1", "report.pdf#2", "scan.pdf#1"}
    assert len(_pages(server, job["id"], since=2)) == 1
    out = tmp_path / "out"
    cli("run", str(docs / "report.pdf"), str(docs / "scan.pdf"), "-o", str(out), "--devices", "cpu",
        "--no-progress", check=True)  # fmt: skip
    local = [json.loads(line) for line in (out / "pages.jsonl").read_text().splitlines()]
    for record in local:
        mine = served[f"{Path(record['document']).name}#{record['page']}"]
        assert mine["text"] == record["text"] and mine["markdown"] == record["markdown"]
        assert mine["text_source"] == record["text_source"]
    md = requests.get(f"{server.url}/v1/jobs/{job['id']}/documents/report.pdf.md", headers=AUTH,
                      timeout=10)  # fmt: skip
    assert md.status_code == 200 and "Annual Report 2024" in md.text


def test_a_job_is_running_as_soon_as_a_worker_takes_its_first_page(
    server, two_page_scan: Path
) -> None:
    job = _submit(server, two_page_scan, ocr="always").json()  # OCR: seconds a page
    deadline = time.monotonic() + 60
    state = job
    while state["status"] == "queued" and time.monotonic() < deadline:
        state = requests.get(f"{server.url}/v1/jobs/{job['id']}", headers=AUTH, timeout=10).json()
        time.sleep(0.02)
    assert state["status"] == "running", state
    assert state["pages"]["done"] == 0  # running while its first page is in the works
    assert state["started"] is not None and state["ended"] is None
    done = _wait_done(server, job["id"])
    assert done["status"] == "done" and done["pages"]["done"] == 2 and done["started"] == \
        state["started"]  # fmt: skip


def test_progress_arrives_as_server_sent_events(server, docs: Path) -> None:
    job = _submit(server, docs / "report.pdf", ocr="always", pipeline="ocr").json()
    with requests.get(f"{server.url}/v1/jobs/{job['id']}/events", headers=AUTH, stream=True,
                      timeout=120) as r:  # fmt: skip
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines(decode_unicode=True) if line.startswith("event:")]
    assert events[0] == "event: progress" and events[-1] == "event: end"
    pages = _pages(server, job["id"])
    assert {p["text_source"] for p in pages} == {"ocr"}  # the job's own options
    assert all("layout" not in p["seconds"] for p in pages)  # pipeline ocr: no layout


def test_the_key_is_required_but_not_for_healthz(server) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/v1/jobs", timeout=5).status_code == 401
    wrong = requests.get(f"{server.url}/v1/jobs", headers={"X-Api-Key": "nope"}, timeout=5)
    assert wrong.status_code == 401
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert requests.get(f"{server.url}/v1/jobs", headers=bearer, timeout=5).status_code == 200


def test_limits_refuse_with_the_right_status(server, docs: Path, tmp_path: Path) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    began = time.monotonic()
    conn.putrequest("POST", "/v1/jobs")
    conn.putheader("X-Api-Key", KEY)
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(200 * 10**6))  # 200 MB announced, none sent
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413 and time.monotonic() - began < 1.0
    assert "max-upload-mb" in answer.read().decode()
    text = tmp_path / "notes.txt"
    text.write_text("just some words, not a document\n")
    r = _submit(server, text)
    assert r.status_code == 415 and "notes.txt" in r.json()["detail"]
    too_long = _submit(server, docs / "long.pdf", docs / "long.pdf")
    assert too_long.status_code == 413 and "120 pages" in too_long.json()["detail"]
    full = _submit(server, docs / "long.pdf")  # 60 pages wait: past the 50 of --max-queue
    assert full.status_code == 429 and int(full.headers["Retry-After"]) >= 5


def test_upload_names_never_become_paths(server, docs: Path) -> None:
    body = (docs / "report.pdf").read_bytes()
    files = [("files", ("../../evil.pdf", body, "application/pdf")),
             ("files", ("a/b/../../evil.pdf", body, "application/pdf"))]  # fmt: skip
    job = requests.post(f"{server.url}/v1/jobs", files=files, headers=AUTH, timeout=30).json()
    done = _wait_done(server, job["id"])
    names = [f["name"] for f in done["files"]]
    assert all("/" not in n and ".." not in n for n in names) and len(set(names)) == 2
    assert not (server.data.parent / "evil.pdf").exists()
    assert not list(server.data.parent.parent.glob("evil.pdf"))


def test_cancel_then_delete(server, docs: Path) -> None:
    job = _submit(server, docs / "report.pdf").json()
    cancelled = requests.delete(f"{server.url}/v1/jobs/{job['id']}", headers=AUTH, timeout=10)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] in ("cancelled", "done")  # it may have been that fast
    gone = requests.delete(f"{server.url}/v1/jobs/{job['id']}", headers=AUTH, timeout=10)
    assert gone.json() == {"id": job["id"], "deleted": True}
    missing = requests.get(f"{server.url}/v1/jobs/{job['id']}", headers=AUTH, timeout=10)
    assert missing.status_code == 404


def test_convert_answers_small_inputs_in_one_request(server, docs: Path) -> None:
    files = [("files", ("report.pdf", (docs / "report.pdf").read_bytes(), "application/pdf"))]
    r = requests.post(f"{server.url}/v1/convert", files=files, headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["job"]["status"] == "done" and len(body["pages"]) == 2
    assert "Annual Report 2024" in body["markdown"]["report.pdf"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_a_stopped_server_finishes_its_job_after_a_restart(
    serve_process, docs: Path, tmp_path: Path, sig: int
) -> None:
    data = tmp_path / "data"
    first = serve_process(data, "--max-pages", "500").start()
    files = [("files", ("long.pdf", (docs / "long.pdf").read_bytes(), "application/pdf"))]
    job = requests.post(f"{first.url}/v1/jobs", files=files, timeout=30).json()
    deadline = time.monotonic() + 60
    while requests.get(f"{first.url}/v1/jobs/{job['id']}", timeout=5).json()["pages"]["done"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    began = time.monotonic()
    first.stop(sig)
    if sig == signal.SIGTERM:  # drained: the pages in hand finish, the rest wait for a restart
        assert first.proc is not None and first.proc.returncode == 0
        assert time.monotonic() - began < 30
    second = serve_process(data, "--max-pages", "500")
    second.port, second.url = first.port, first.url
    second.args[second.args.index("--port") + 1] = str(first.port)
    try:
        second.start()
        done = _wait_done(second, job["id"])
        assert done["status"] == "done" and done["pages"]["done"] == 60
        ids = [p["id"] for p in _pages(second, job["id"])]
        assert sorted(ids) == sorted(f"long.pdf#{n}" for n in range(1, 61))  # each page once
    finally:
        second.stop()


def test_metrics_count_pages_queue_and_latency(server, docs: Path) -> None:
    job = _submit(server, docs / "report.pdf").json()
    _wait_done(server, job["id"])
    assert requests.get(f"{server.url}/metrics", timeout=10).status_code == 401
    text = requests.get(f"{server.url}/metrics", headers=AUTH, timeout=10).text
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in text.splitlines() if line and not line.startswith("#")}  # fmt: skip
    assert lines['docfleet_pages_total{device="cpu",status="ok"}'] >= 2
    assert lines["docfleet_queue_pages"] == 0
    assert lines['docfleet_jobs{status="done"}'] >= 1
    assert lines['docfleet_worker_ready{device="cpu",replica="0"}'] == 1
    assert lines['docfleet_worker_busy_seconds_total{device="cpu",replica="0"}'] > 0
    posts = 'docfleet_request_seconds_count{method="POST",route="/v1/jobs",status="202"}'
    assert lines[posts] >= 1


def test_a_small_job_is_not_held_up_by_a_large_one(server, docs: Path) -> None:
    large = _submit(server, docs / "forty.pdf", ocr="always").json()  # OCR: a while per page
    small = _submit(server, docs / "report.pdf").json()
    done = _wait_done(server, small["id"])
    assert done["status"] == "done"
    behind = requests.get(f"{server.url}/v1/jobs/{large['id']}", headers=AUTH, timeout=10).json()
    assert behind["status"] == "running" and behind["pages"]["done"] < 20  # served in turn
    requests.delete(f"{server.url}/v1/jobs/{large['id']}", headers=AUTH, timeout=10)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_a_chunked_body_over_the_limit_is_cut_off(server) -> None:
    assert server.proc is not None
    before = _rss(server.proc.pid)
    sent = 0

    def body() -> Iterator[bytes]:  # no length announced: the limit is found while reading
        nonlocal sent
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n\r\n'
        chunk = b"%PDF" + b"0" * (1 << 20)
        for _ in range(200):
            sent += len(chunk)
            yield chunk

    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=x"}
    try:
        r = requests.post(f"{server.url}/v1/jobs", data=body(), headers=headers, timeout=30)
        assert r.status_code == 413
    except requests.ConnectionError:
        pass  # the server answered and closed while the client was still sending
    assert sent < 200 << 20  # the client was stopped well before its 200 MB were sent
    assert _rss(server.proc.pid) - before < 64 << 20  # nothing was held in memory


def test_a_bad_document_fails_only_its_own_record(server, docs: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 broken")
    job = _submit(server, docs / "report.pdf", broken).json()
    done = _wait_done(server, job["id"])
    assert done["status"] == "done" and done["partial"] is True  # done, with a failed page
    assert done["pages"] == {"total": 3, "done": 3, "failed": 1}
    assert done["failures"] == {"unreadable": 1}
    records = {p["id"]: p for p in _pages(server, job["id"])}
    assert records["broken.pdf#0"]["status"] == "error"
    assert records["report.pdf#1"]["status"] == records["report.pdf#2"]["status"] == "ok"


def test_a_job_cannot_ask_for_a_stage_the_server_does_not_hold(server, docs: Path) -> None:
    refused = _submit(server, docs / "report.pdf", pipeline="ocr+embed")
    assert refused.status_code == 422 and "not embed" in refused.json()["detail"]
    unknown = _submit(server, docs / "report.pdf", pipeline="ocr+nope")
    assert unknown.status_code == 422 and "unknown stage" in unknown.json()["detail"]


def _served_text(server, job_id: str, *paths: str) -> str:
    """The job and the given paths under it, as the client sees them, one text."""
    base = f"{server.url}/v1/jobs/{job_id}"
    answers = [requests.get(base + p, headers=AUTH, timeout=10) for p in ("", "/pages", *paths)]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    return "\n".join(a.text for a in answers)


def test_a_damaged_page_is_named_by_its_upload_never_a_server_path(
    server, damaged_pdf: Path
) -> None:
    job = _submit(server, damaged_pdf).json()
    done = _wait_done(server, job["id"])
    assert done["pages"] == {"total": 2, "done": 2, "failed": 1} and done["partial"] is True
    records = {p["id"]: p for p in _pages(server, job["id"])}
    assert records["page_tree_cycle.pdf#1"]["status"] == "ok"
    bad = records["page_tree_cycle.pdf#2"]
    assert bad["status"] == "error" and bad["document"] == "page_tree_cycle.pdf"
    assert bad["error"]["message"].startswith("page_tree_cycle.pdf: page 2 is damaged")
    served = _served_text(server, job["id"], "/documents/page_tree_cycle.pdf.md",
                          "/documents/page_tree_cycle.pdf.html", "/results.jsonl")  # fmt: skip
    assert "page 2 failed: render-failed: page_tree_cycle.pdf: page 2 is damaged" in served
    for server_path in {str(server.data), str(server.data.resolve()), "/inputs/", "/jobs/"}:
        assert server_path not in served


def test_a_bad_file_beside_a_good_one_gets_an_error_record(
    server, docs: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some words, not a document\n")
    r = _submit(server, docs / "report.pdf", notes)
    assert r.status_code == 202, r.text
    files = {f["name"]: f for f in r.json()["files"]}
    assert files["report.pdf"] == {"name": "report.pdf", "pages": 2, "error": ""}
    assert files["notes.txt"]["error"].startswith("notes.txt: not a PDF, PNG")
    done = _wait_done(server, r.json()["id"])
    assert done["status"] == "done" and done["partial"] is True
    assert done["pages"] == {"total": 3, "done": 3, "failed": 1}
    assert done["failures"] == {"not-a-document": 1}
    records = {p["id"]: p for p in _pages(server, done["id"])}
    assert records["notes.txt#0"]["status"] == "error"
    assert records["notes.txt#0"]["error"]["message"].startswith("notes.txt: not a PDF")
    assert records["report.pdf#1"]["status"] == records["report.pdf#2"]["status"] == "ok"
    served = _served_text(server, done["id"], "/documents/report.pdf.md")
    assert "Annual Report 2024" in served and str(server.data.resolve()) not in served

"""A job belongs to the API key that made it: a real server with two users' keys and an admin
key, driven over HTTP."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")
requests = pytest.importorskip("requests")

from docs_factory import one_column_page, reportlab_pdf  # noqa: E402

#: Everything a key may ask of a job of its own.
JOB_PATHS = ("", "/pages", "/events", "/documents/mine.pdf.md", "/documents/mine.pdf.html",
             "/results.jsonl", "/results.zip")  # fmt: skip


def _as(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}


def _submit(server, key: str, pdf: Path) -> str:
    files = [("files", (pdf.name, pdf.read_bytes(), "application/pdf"))]
    r = requests.post(f"{server.url}/v1/jobs", files=files, headers=_as(key), timeout=30)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _wait_done(server, key: str, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = requests.get(f"{server.url}/v1/jobs/{job_id}", headers=_as(key), timeout=10).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise TimeoutError(job_id)


def _listed(server, key: str) -> set[str]:
    r = requests.get(f"{server.url}/v1/jobs", headers=_as(key), timeout=10)
    assert r.status_code == 200
    return {job["id"] for job in r.json()}


def test_two_keys_cannot_see_or_delete_each_others_jobs(
    keyed_server, api_keys, tmp_path: Path
) -> None:
    server, ann_key, bob_key, admin_key = (keyed_server, api_keys.ann, api_keys.bob,
                                             api_keys.admin)  # fmt: skip
    pdf = reportlab_pdf(tmp_path / "mine.pdf", [one_column_page()])
    ann, bob = _submit(server, ann_key, pdf), _submit(server, bob_key, pdf)
    assert _wait_done(server, ann_key, ann)["status"] == "done"
    assert _wait_done(server, bob_key, bob)["status"] == "done"

    assert ann in _listed(server, ann_key) and bob not in _listed(server, ann_key)
    assert bob in _listed(server, bob_key) and ann not in _listed(server, bob_key)
    assert {ann, bob} <= _listed(server, admin_key)
    for path in JOB_PATHS:
        url = f"{server.url}/v1/jobs/{ann}{path}"
        own = requests.get(url, headers=_as(ann_key), timeout=30)
        assert own.status_code == 200, (path, own.text)
        other = requests.get(url, headers=_as(bob_key), timeout=30)
        assert other.status_code == 404 and other.json() == {"detail": f"no job {ann}"}, path
        assert requests.get(url, headers=_as(admin_key), timeout=30).status_code == 200, path

    refused = requests.delete(f"{server.url}/v1/jobs/{ann}", headers=_as(bob_key), timeout=10)
    assert refused.status_code == 404
    assert requests.get(f"{server.url}/v1/jobs/{ann}", headers=_as(ann_key), timeout=10).ok
    mine = requests.delete(f"{server.url}/v1/jobs/{ann}", headers=_as(ann_key), timeout=10)
    assert mine.json() == {"id": ann, "deleted": True}
    admin = requests.delete(f"{server.url}/v1/jobs/{bob}", headers=_as(admin_key), timeout=10)
    assert admin.json() == {"id": bob, "deleted": True}
    assert ann not in _listed(server, admin_key) and bob not in _listed(server, admin_key)


def test_a_job_stores_a_hash_of_its_key_never_the_key(
    keyed_server, api_keys, tmp_path: Path
) -> None:
    server, ann_key, bob_key = keyed_server, api_keys.ann, api_keys.bob
    job = _submit(server, bob_key, reportlab_pdf(tmp_path / "mine.pdf", [one_column_page()]))
    _wait_done(server, bob_key, job)
    stored = b"".join(p.read_bytes() for p in server.data.rglob("*") if p.is_file())
    assert bob_key.encode() not in stored and ann_key.encode() not in stored
    assert hashlib.sha256(bob_key.encode()).hexdigest().encode() in stored
    shown = requests.get(f"{server.url}/v1/jobs/{job}", headers=_as(bob_key), timeout=10).json()
    assert "owner" not in shown  # the hash is the server's business


def test_without_a_known_key_nothing_is_served(keyed_server, api_keys) -> None:
    server, ann_key, bob_key = keyed_server, api_keys.ann, api_keys.bob
    for headers in ({}, _as("not-a-key"), {"Authorization": f"Bearer {ann_key}x"}):
        assert requests.get(f"{server.url}/v1/jobs", headers=headers, timeout=10).status_code == 401
    bearer = {"Authorization": f"Bearer {bob_key}"}
    assert requests.get(f"{server.url}/v1/jobs", headers=bearer, timeout=10).status_code == 200

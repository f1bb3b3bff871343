"""``docfleet serve`` as a command: where it keeps its data, and a port already in use."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")
requests = pytest.importorskip("requests")


def test_jobs_go_to_the_users_data_folder_not_the_current_one(
    serve_process, tmp_path: Path
) -> None:
    cwd, xdg = tmp_path / "cwd", tmp_path / "xdg"
    cwd.mkdir()
    env = {**os.environ, "XDG_DATA_HOME": str(xdg)}
    env.pop("DOCFLEET_DATA", None)
    server = serve_process(None, env=env, cwd=cwd, log=tmp_path / "server.log").start()
    try:
        assert (xdg / "docfleet" / "serve" / "jobs.sqlite3").is_file()
        assert list(cwd.iterdir()) == []  # nothing written where the command ran
        assert f"data in {xdg / 'docfleet' / 'serve'}" in server.log.read_text()
    finally:
        server.stop()
    assert server.proc is not None and server.proc.returncode == 0


def test_a_busy_port_is_refused_before_the_banner_naming_its_holder(
    cli, keyed_server, tmp_path: Path
) -> None:
    began = time.monotonic()
    second = cli("serve", "--port", str(keyed_server.port), "--devices", "cpu",
                 "--data", str(tmp_path / "data"), timeout=120)  # fmt: skip
    assert second.returncode == 3, second.stderr
    assert time.monotonic() - began < 60  # no model was loaded
    assert "http://" not in second.stderr  # no banner: it never served
    assert f"port {keyed_server.port} on 127.0.0.1 is in use" in second.stderr
    assert keyed_server.proc is not None
    assert f"by pid {keyed_server.proc.pid} (" in second.stderr
    assert "docfleet serve" in second.stderr.split(f"pid {keyed_server.proc.pid}")[1]
    assert not (tmp_path / "data").exists()  # nor did it touch a job store
    assert requests.get(f"{keyed_server.url}/healthz", timeout=10).status_code == 200

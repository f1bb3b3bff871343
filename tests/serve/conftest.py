"""Fixtures of the service's tests: ``docfleet serve`` as a real process on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """A ``docfleet serve`` process on a free loopback port; ``start()`` waits until it is ready."""

    def __init__(self, command: list[str], data: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data
        key = extra[extra.index("--api-key") + 1] if "--api-key" in extra else None
        self.auth = {"X-Api-Key": key} if key else {}  # /readyz wants the key the server has
        self.args = [*command, "--port", str(self.port), "--data", str(data), "--devices", "cpu",
                     "--replicas", "1", *extra]  # fmt: skip
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        import requests

        with open(self.data.parent / f"server-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ready = requests.get(f"{self.url}/readyz", headers=self.auth, timeout=2)
                if ready.status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            assert self.proc.poll() is None, "the server exited"
            time.sleep(0.2)
        raise TimeoutError("the server did not become ready")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)


@pytest.fixture(scope="session")
def serve_process(cli) -> Callable[..., ServeProcess]:
    """``serve_process(data, *flags)``: ``docfleet serve`` with DATA as its data folder on a free
    loopback port, on the CPU, not started yet (``.start()``, ``.stop(signal)``)."""
    return partial(ServeProcess, cli.argv("serve"))

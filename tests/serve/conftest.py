"""Fixtures of the service's tests: ``docfleet serve`` as a real process on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """A ``docfleet serve`` process on a free loopback port; ``start()`` waits until it is ready.

    ``data`` None leaves ``--data`` out (the server picks its folder); then ``log`` says where
    its output goes. ``env`` and ``cwd`` are the process's own (``None``: this one's)."""

    def __init__(
        self, command: list[str], data: Path | None, *extra: str, log: Path | None = None,
        env: dict[str, str] | None = None, cwd: Path | None = None,
    ) -> None:  # fmt: skip
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data
        key = extra[extra.index("--api-key") + 1].split(",")[0] if "--api-key" in extra else None
        self.auth = {"X-Api-Key": key} if key else {}  # /readyz wants a key the server has
        where = ["--data", str(data)] if data is not None else []
        self.args = [*command, "--port", str(self.port), *where, "--devices", "cpu",
                     "--replicas", "1", *extra]  # fmt: skip
        self.log = log or (data.parent if data else Path.cwd()) / f"server-{self.port}.log"
        self.env, self.cwd = env, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        import requests

        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, env=self.env,
                                         cwd=self.cwd)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ready = requests.get(f"{self.url}/readyz", headers=self.auth, timeout=2)
                if ready.status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            assert self.proc.poll() is None, f"the server exited: {self.log.read_text()[-2000:]}"
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


@dataclass(frozen=True)
class ApiKeys:
    """The keys of ``keyed_server``: two users' and the admin's."""

    ann: str = "ann-key-0123"
    bob: str = "bob-key-4567"
    admin: str = "admin-key-89ab"


@pytest.fixture(scope="session")
def api_keys() -> ApiKeys:
    return ApiKeys()


@pytest.fixture(scope="session")
def keyed_server(
    serve_process, api_keys: ApiKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """A server with two users' keys and an admin key (``api_keys``), started."""
    root = tmp_path_factory.mktemp("serve-keys")
    keys = f"{api_keys.ann},{api_keys.bob}"
    srv = serve_process(root / "data", "--api-key", keys, "--admin-key", api_keys.admin).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def damaged_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``page_tree_cycle.pdf``: two pages, the second a page-tree node that holds itself, so
    PDFium counts it and cannot load it (``page 2 is damaged``); page 1 reads."""
    from docs_factory import raw_pdf, stream

    path = tmp_path_factory.mktemp("damaged") / "page_tree_cycle.pdf"
    page = (b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
            b"/Resources<</Font<</F1 5 0 R>>>>>>")  # fmt: skip
    return raw_pdf(path, [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R 6 0 R]/Count 2>>",
        page,
        stream(b"BT /F1 24 Tf 72 700 Td (Page one reads well) Tj ET"),
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
        b"<</Type/Pages/Parent 2 0 R/Kids[6 0 R]/Count 1>>",
    ])  # fmt: skip


@pytest.fixture(scope="session")
def two_page_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-page image-only PDF (a scan: every page needs OCR, seconds each on a CPU)."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    path = tmp_path_factory.mktemp("scan2") / "scan2.pdf"
    cv = canvas.Canvas(str(path), pagesize=LETTER)
    for page in (1, 2):
        image = Image.new("RGB", (850, 1100), "white")
        draw = ImageDraw.Draw(image)
        for i in range(10):
            draw.text((80, 100 + 60 * i), f"SCANNED PAGE {page} LINE {i}", fill="black",
                      font_size=28)  # fmt: skip
        cv.drawImage(ImageReader(image), 0, 0, *LETTER)
        cv.showPage()
    cv.save()
    return path

"""The HTML page at ``/``: upload files, watch their jobs, read their Markdown (rendered by the
server with everything from the document escaped), download Markdown, JSON lines and a zip.

One static page (``page.html``: HTML, CSS and plain JavaScript, nothing loaded from elsewhere)
that talks to the JSON API with ``fetch()``. Loading the page needs no API key; when the API
answers 401 the page asks for the key, keeps it in ``sessionStorage`` and sends it as
``X-Api-Key``. A Content-Security-Policy allows only the page's own script and style.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse


@cache
def _page() -> tuple[str, dict[str, str]]:
    """The page and its response headers (the CSP names the hashes of its inline blocks)."""
    html = files("docfleet.serve").joinpath("page.html").read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
        digests = (hashlib.sha256(b.encode("utf-8")).digest() for b in blocks)
        return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)

    policy = (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    headers = {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return html, headers


router = APIRouter()  # open without the API key; the API behind the page is not


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    """The page, with its Content-Security-Policy."""
    html, headers = _page()
    return HTMLResponse(html, headers=headers)

"""Converted graphs kept on disk, keyed by the ONNX file's SHA-256, so a later load needs neither
the ``onnx`` package nor the conversion.

A cache file is ``<sha256>.pt``, written with ``torch.save`` to a temporary name and renamed into
place (replicas loading at once never read half a file), and read with
``torch.load(weights_only=True)`` (plain data and tensors only). A file that cannot be read or is
of another format is converted again and overwritten.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from docfleet.runtimes.torchnets.onnx_reader import read_onnx
from docfleet.runtimes.torchnets.spec import GraphSpec

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/docfleet/torchnets`` (``~/.cache/docfleet/torchnets`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "docfleet" / "torchnets"


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_spec(path: Path, cache_dir: Path | None) -> GraphSpec:
    """The graph of ONNX file ``path``: from ``cache_dir`` when converted before, else read
    (and saved there). ``cache_dir=None`` reads the file every time."""
    if cache_dir is None:
        return read_onnx(path)
    import torch

    cached = cache_dir / f"{file_sha256(path)}.pt"
    if cached.is_file():
        try:
            return GraphSpec.from_dict(torch.load(cached, map_location="cpu", weights_only=True))
        except Exception as exc:  # truncated, corrupt or of an older format: convert again
            log.warning("converting %s again: cached %s is unreadable (%s)", path, cached, exc)
    spec = read_onnx(path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".pt")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(spec.to_dict(), f)
            os.replace(tmp, cached)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:  # a read-only or full disk costs the next load time, nothing more
        log.warning("could not cache %s in %s: %s", path, cache_dir, exc)
    return spec

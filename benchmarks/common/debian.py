"""Debian packages for the real-PDF corpus: downloaded with apt-get, unpacked once with dpkg."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path


def fetch(package: str, wanted: str, cache: Path) -> Path:
    """Unpack ``package`` (version ``wanted`` when the index has it) once; return its root."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = download(package, wanted, debs)
    version = deb_field(deb, "Version")
    if version != wanted:
        print(f"note: {package} {version} instead of {wanted}", file=sys.stderr)
    root = cache / "root" / f"{package}_{version}"
    if not (root / ".done").exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        (root / ".done").write_text(version)
    return root


def download(package: str, version: str, debs: Path) -> Path:
    """The package's .deb in ``debs``: the cached one, else ``apt-get download``."""
    for attempt in (f"{package}={version}", package, None):
        found = sorted(debs.glob(f"{package}_{version}_*.deb")) or sorted(
            debs.glob(f"{package}_*.deb")
        )
        if found:
            return found[-1]
        if attempt:
            command = ["apt-get", "download", "-q", attempt]
            subprocess.run(command, cwd=debs, capture_output=True)
    raise RuntimeError(f"apt-get download {package} failed; run apt-get update first?")


def deb_field(deb: Path, field: str) -> str:
    """A field of the .deb's control data (``Version``, say)."""
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), field], check=True, capture_output=True, text=True
    ).stdout.strip()


def version_of(root: Path) -> str:
    """The version of the package unpacked in ``root``."""
    return (root / ".done").read_text()


def open_pdf(root: Path, path: str) -> Path:
    """The PDF at ``path`` in the unpacked package, decompressed next to it when gzipped."""
    src = root / path
    if not path.endswith(".gz"):
        return src
    plain = src.with_suffix("")
    if not plain.exists():
        plain.write_bytes(gzip.decompress(src.read_bytes()))
    return plain

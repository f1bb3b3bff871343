"""Where the service keeps its jobs when ``--data`` is not given: the user's data folder, as
the XDG base-directory convention (and platformdirs, on macOS and Windows) places it, never
the current folder.

>>> str(default_data_folder({"XDG_DATA_HOME": "/srv/xdg"}, home="/home/ann", system="Linux"))
'/srv/xdg/docfleet/serve'
>>> str(default_data_folder({}, home="/home/ann", system="Linux"))
'/home/ann/.local/share/docfleet/serve'
>>> str(default_data_folder({}, home="/Users/ann", system="Darwin"))
'/Users/ann/Library/Application Support/docfleet/serve'
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path

APP = "docfleet"
PART = "serve"  # docfleet's other commands may keep their own data beside it


def default_data_folder(
    environ: Mapping[str, str], *, home: str | Path | None = None, system: str | None = None
) -> Path:
    """``$XDG_DATA_HOME/docfleet/serve`` (a relative ``XDG_DATA_HOME`` is ignored, as the
    convention says), else ``~/.local/share/docfleet/serve``; on macOS
    ``~/Library/Application Support/docfleet/serve``, on Windows
    ``%LOCALAPPDATA%\\docfleet\\serve``."""
    home = Path(home) if home is not None else Path.home()
    system = system or platform.system()
    if system == "Windows":
        base = environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / APP / PART
    if system == "Darwin":
        return home / "Library" / "Application Support" / APP / PART
    xdg = environ.get("XDG_DATA_HOME", "")
    base_path = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".local" / "share"
    return base_path / APP / PART


def data_folder(chosen: str | None, environ: Mapping[str, str]) -> Path:
    """The folder of ``--data`` when given (``~`` expanded), else :func:`default_data_folder`."""
    if chosen:
        return Path(chosen).expanduser()
    return default_data_folder(environ)

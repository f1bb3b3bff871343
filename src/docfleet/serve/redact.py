"""Server paths out of what the API shows: an error names the upload, not where it is stored.

The pipeline's messages name the file it read (``/srv/data/jobs/97ae.../inputs/scan.pdf: page 2
is damaged``); over HTTP the same message names the upload (``scan.pdf: page 2 is damaged``).

>>> names = {"/srv/data/jobs/97ae/inputs/scan.pdf": "scan.pdf"}
>>> without_paths({"error": {"message": "/srv/data/jobs/97ae/inputs/scan.pdf: page 2 is damaged"},
...                "page": 2}, names, "/srv/data")
{'error': {'message': 'scan.pdf: page 2 is damaged'}, 'page': 2}
>>> without_paths("cannot write /srv/data/jobs/97ae/pages.jsonl", names, "/srv/data")
'cannot write <data>/jobs/97ae/pages.jsonl'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def without_paths(value: Any, names: Mapping[str, str], root: str | Path) -> Any:
    """``value`` (a record: dicts, lists, strings) with each stored file's path replaced by its
    upload's name (``names``: path -> name), and any other path under the data folder ``root``
    by ``<data>/...``. Other values (numbers, bytes) are kept as they are."""
    if isinstance(value, str):
        return _text(value, names, str(root))
    if isinstance(value, dict):
        return {k: without_paths(v, names, root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(without_paths(v, names, root) for v in value)
    return value


def _text(text: str, names: Mapping[str, str], root: str) -> str:
    if root not in text:
        return text
    for path in sorted(names, key=len, reverse=True):  # a longer path first: a.pdf.pdf, a.pdf
        text = text.replace(path, names[path])
    return text.replace(root, "<data>")

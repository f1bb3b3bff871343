"""``documents/<path>.md``: one Markdown file per document, written when its last page is in."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def markdown_path(out_dir: Path, document: str, root: str | Path | None = None) -> Path:
    """Where a document's Markdown goes: its path under ``documents/`` (relative to ``root``,
    the folder common to the run's documents), with ``.md`` added to its name."""
    path = Path(document)
    if root is not None and path.is_relative_to(root) and path != Path(root):
        path = path.relative_to(root)
    parts = [p for p in path.parts if p not in ("/", "..", ".") and not p.endswith(":\\")]
    return out_dir / "documents" / Path(*parts).with_name(parts[-1] + ".md")


class MarkdownSink:
    """Collects page Markdown per document and writes the file once the document is complete."""

    def __init__(self, out_dir: str | Path, root: str | Path | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.root = root
        self._pages: dict[str, dict[int, str]] = {}

    def add(self, record: dict[str, Any], *, replay: bool = False) -> None:
        """Take a page record (ok or failed); write the document when all its pages are in.

        ``replay`` feeds records of an earlier run: a document already written stays as it is.
        """
        document, page, total = record["document"], record["page"], record.get("pages") or 0
        if page == 0:
            return  # the document could not be opened: nothing to write
        if record.get("status") == "ok":
            fragment = record.get("markdown", "")
        else:
            error = record.get("error") or {}
            fragment = f"<!-- page {page} failed: {error.get('type')}: {error.get('message')} -->"
        pages = self._pages.setdefault(document, {})
        pages[page] = fragment
        if len(pages) >= total:
            if not (replay and markdown_path(self.out_dir, document, self.root).exists()):
                self._write(document, pages)
            del self._pages[document]

    def _write(self, document: str, pages: dict[int, str]) -> None:
        path = markdown_path(self.out_dir, document, self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(f"<!-- page {n} -->\n\n{pages[n]}".rstrip() for n in sorted(pages))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(f"# {Path(document).name}\n\n{body}\n", encoding="utf-8")
        tmp.replace(path)

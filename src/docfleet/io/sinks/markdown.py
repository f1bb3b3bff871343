"""``documents/<path>.md``: one Markdown file per document, written when its last page is in,
and beside it the images its pages refer to (``documents/<path>.assets/``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: Each page's Markdown of a complete document, from the document's name and its pages' own
#: (``docfleet.page.furniture.Furniture.compose`` leaves out the furniture the pages repeat).
Compose = Callable[[str, Mapping[int, str]], Mapping[int, str]]


def markdown_path(out_dir: Path, document: str, root: str | Path | None = None) -> Path:
    """Where a document's Markdown goes: its path under ``documents/`` (relative to ``root``,
    the folder common to the run's documents), with ``.md`` added to its name."""
    path = Path(document)
    if root is not None and path.is_relative_to(root) and path != Path(root):
        path = path.relative_to(root)
    parts = [p for p in path.parts if p not in ("/", "..", ".") and not p.endswith(":\\")]
    return out_dir / "documents" / Path(*parts).with_name(parts[-1] + ".md")


class MarkdownSink:
    """Collects page Markdown per document and writes the file once the document is complete;
    ``compose``, when given, turns the pages' Markdown into what the file holds."""

    def __init__(
        self, out_dir: str | Path, root: str | Path | None = None, *, compose: Compose | None = None
    ) -> None:
        self.out_dir = Path(out_dir)
        self.root = root
        self.compose = compose
        self._pages: dict[str, dict[int, str]] = {}

    def add(self, record: dict[str, Any], *, replay: bool = False) -> None:
        """Take a page record (ok or failed); write the document when all its pages are in.

        ``replay`` feeds records of an earlier run: a document already written stays as it is.
        """
        document, page, total = record["document"], record["page"], record.get("pages") or 0
        if page == 0:
            return  # the document could not be opened: nothing to write
        self._write_assets(document, record.get("_assets") or {})
        if record.get("status") == "ok":
            fragment = record.get("markdown", "")
        else:
            error = record.get("error") or {}
            fragment = f"<!-- page {page} failed: {error.get('type')}: {error.get('message')} -->"
        pages = self._pages.setdefault(document, {})
        pages[page] = fragment
        if len(pages) >= total:
            if self.compose is not None:
                pages = dict(self.compose(document, pages))
            if not (replay and markdown_path(self.out_dir, document, self.root).exists()):
                self._write(document, pages)
            del self._pages[document]

    def _write_assets(self, document: str, assets: Mapping[str, bytes]) -> None:
        """The page's images (a formula's crop), at their paths relative to the document's
        Markdown, written when the page comes in (a resumed run finds them there)."""
        folder = markdown_path(self.out_dir, document, self.root).parent
        for name, data in assets.items():
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts or not parts:
                raise ValueError(f"{name!r} is no path inside the documents folder")
            path = folder.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)

    def _write(self, document: str, pages: Mapping[int, str]) -> None:
        path = markdown_path(self.out_dir, document, self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(f"<!-- page {n} -->\n\n{pages[n]}".rstrip() for n in sorted(pages))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(f"# {Path(document).name}\n\n{body}\n", encoding="utf-8")
        tmp.replace(path)

"""Finding input files (files, folders, globs) and telling document kinds apart by content."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docs_factory import Span, image_bytes, reportlab_pdf
from PIL import Image

from docfleet.io.inputs import find_inputs, sniff, sniff_bytes


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ["b.pdf", "a.pdf", "sub/z.png", "sub/deeper/c.tif", "sub/.hidden.pdf"]:
        touch(tmp_path / "docs" / name)
    touch(tmp_path / "docs" / ".git" / "objects" / "x.pdf")
    touch(tmp_path / "docs" / "m.jpg")
    return tmp_path


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_folder_is_walked_recursively_in_sorted_order_skipping_hidden(tree: Path):
    found = find_inputs([tree / "docs"])
    assert names(found, tree / "docs") == [
        "a.pdf",
        "b.pdf",
        "m.jpg",
        "sub/deeper/c.tif",
        "sub/z.png",
    ]


def test_arguments_keep_their_order_and_duplicates_are_dropped(tree: Path):
    docs = tree / "docs"
    found = find_inputs([docs / "m.jpg", docs, docs / "a.pdf", str(docs / "m.jpg")])
    assert names(found, docs) == ["m.jpg", "a.pdf", "b.pdf", "sub/deeper/c.tif", "sub/z.png"]


def test_a_symlink_to_a_file_already_found_is_a_duplicate(tree: Path):
    docs = tree / "docs"
    os.symlink(docs / "a.pdf", tree / "link.pdf")
    assert names(find_inputs([docs / "a.pdf", tree / "link.pdf"]), docs) == ["a.pdf"]


def test_symlink_loops_end(tree: Path):
    os.symlink(tree / "docs", tree / "docs" / "sub" / "loop")
    found = find_inputs([tree / "docs"])
    assert len(found) == 5


def test_globs_with_double_star(tree: Path):
    docs = tree / "docs"
    assert names(find_inputs([str(docs / "**" / "*.pdf")]), docs) == ["a.pdf", "b.pdf"]
    assert names(find_inputs([str(docs / "**" / "*.p*")]), docs) == ["a.pdf", "b.pdf", "sub/z.png"]
    assert names(find_inputs([str(docs / "su?")]), docs) == ["sub/deeper/c.tif", "sub/z.png"]


def test_relative_paths_stay_relative(tree: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tree)
    assert find_inputs(["docs/a.pdf", "docs/sub/deeper"]) == [
        Path("docs/a.pdf"),
        Path("docs/sub/deeper/c.tif"),
    ]


def test_a_missing_path_names_itself(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"'nope\.pdf' does not exist"):
        find_inputs(["nope.pdf"])
    with pytest.raises(FileNotFoundError, match="no files match"):
        find_inputs([str(tmp_path / "*.pdf")])


def test_odd_file_names(tmp_path: Path):
    odd = ["with space.pdf", "ünïcødé ✓.pdf", "new\nline.pdf", "[brackets].pdf"]
    for name in odd:
        touch(tmp_path / name)
    found = find_inputs([tmp_path])
    assert sorted(p.name for p in found) == sorted(odd)
    assert find_inputs([tmp_path / "[brackets].pdf"]) == [tmp_path / "[brackets].pdf"]


def test_an_empty_folder_gives_nothing(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    assert find_inputs([tmp_path / "empty"]) == []


# --- sniffing by content -------------------------------------------------------------------

RGB = Image.new("RGB", (8, 8), (200, 10, 10))


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("png", image_bytes(RGB, "PNG")),
        ("jpeg", image_bytes(RGB, "JPEG")),
        ("tiff", image_bytes(RGB, "TIFF")),
        ("tiff", b"MM\x00*" + b"\x00" * 60),  # big-endian TIFF header
        ("bmp", image_bytes(RGB, "BMP")),
        ("webp", image_bytes(RGB, "WEBP")),
        ("gif", image_bytes(RGB, "GIF")),
        ("pdf", b"%PDF-1.4\n..."),
        ("pdf", b"\x00" * 500 + b"%PDF-1.7\n"),  # junk before the header, as readers allow
    ],
)
def test_every_format_is_recognised_by_its_bytes(tmp_path: Path, kind: str, data: bytes):
    path = touch(tmp_path / "no-extension", data)
    assert sniff(path) == kind


def test_extensions_are_ignored(tmp_path: Path):
    png_named_pdf = touch(tmp_path / "image.pdf", image_bytes(RGB, "PNG"))
    pdf_named_txt = reportlab_pdf(tmp_path / "notes.txt", [[Span("hello", 72, 700)]])
    text_named_pdf = touch(tmp_path / "fake.pdf", b"just some text, not a PDF\n")
    assert sniff(png_named_pdf) == "png"
    assert sniff(pdf_named_txt) == "pdf"
    assert sniff(text_named_pdf) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 2000 + b"%PDF-1.4",  # header too late
        b"BMW 320i, 2004, low mileage",  # starts with BM but is not a bitmap
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF but audio
        b"GIF8",  # truncated signature
        bytes(range(256)) * 4,
    ],
)
def test_anything_else_is_not_a_document(tmp_path: Path, data: bytes):
    assert sniff(touch(tmp_path / "file.pdf", data)) is None
    assert sniff_bytes(data[:1024]) is None

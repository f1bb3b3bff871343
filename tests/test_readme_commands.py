"""The README's commands run as written: each in a scratch folder holding the files it names (a
copy of ``examples/``, the notes and schemas the text describes), with tiny random models
built here standing in for the folders its "needs a download" notes say to fetch."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def section(title: str) -> str:
    """The README's text under the ``## `` heading that starts with ``title``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def shell(command: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``command`` in bash in ``cwd``, with this interpreter's ``docfleet`` first on PATH and the
    hub offline: what the README's reader types."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": path}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch folder with a copy of ``examples/``, as a fresh checkout has it."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def test_the_bin_example_runs_offline_as_written(workdir: Path) -> None:
    pytest.importorskip("rapidocr")
    bins = section("Sorting images into bins")
    assert blocks(bins, "yaml")[0] == (ROOT / "examples" / "bins.yml").read_text("utf-8")
    command = blocks(bins, "bash")[0].strip()
    assert command.startswith("docfleet bin examples/ ") and "--bins examples/bins.yml" in command
    proc = shell(command, workdir)
    assert proc.returncode == 0, proc.stderr
    got = {r["id"]: r for r in jsonl(workdir / "sorted" / "bins.jsonl")}
    assert {k: r["bin"] for k, r in got.items()} == {  # as the README says
        "examples/invoice.png#1": "invoices",
        "examples/report.pdf#1": "documents",
        "examples/report.pdf#2": "documents",
        "examples/report.pdf#3": "other",
    }
    assert got["examples/report.pdf#1"]["text_source"] == "text-layer"
    assert (workdir / "sorted" / "invoices" / "invoice.png").is_file()


def test_the_bin_example_with_downloaded_models_runs_with_such_folders(
    workdir: Path, tiny_blip: Path, tiny_clip: Path
) -> None:
    pytest.importorskip("rapidocr")
    bins = section("Sorting images into bins")
    download, command = (b.strip() for b in blocks(bins, "bash")[1:3])
    for name in ("blip", "clip"):  # the folders the download fills are the ones the flags name
        assert f"--local-dir models/{name}" in download and f"models/{name}" in command
        (workdir / "models").mkdir(exist_ok=True)
        (workdir / "models" / name).symlink_to(tiny_blip if name == "blip" else tiny_clip)
    (workdir / "bins-models.yml").write_text(blocks(bins, "yaml")[1], encoding="utf-8")
    (workdir / "photos").mkdir()
    shutil.copy(workdir / "examples" / "invoice.png", workdir / "photos")
    proc = shell(command, workdir)
    assert proc.returncode == 0, proc.stderr
    [record] = jsonl(workdir / "sorted" / "bins.jsonl")
    assert record["bin"] == "invoices"  # its text says "Total due"
    assert isinstance(record["features"]["caption"], str)
    assert -1 <= record["features"]["clip.photos"] <= 1


def test_the_extract_example_runs_with_a_model_folder(workdir: Path, tiny_llm: Path) -> None:
    extract = section("Structured extraction with a local LLM")
    assert "hf download Qwen/Qwen2.5-0.5B-Instruct --local-dir models/qwen2.5-0.5b" in extract
    command = blocks(extract, "bash")[0].strip().replace("MODEL_DIR", str(tiny_llm))
    (workdir / "notes.csv").write_text(
        'id,note\nn1,"BP 150/95, headache"\nn2,"cough, fever 38.5"\n', encoding="utf-8"
    )
    schema = {"type": "object", "required": ["diagnosis"],
              "properties": {"diagnosis": {"type": "string"}}}  # fmt: skip
    (workdir / "dx.json").write_text(json.dumps(schema), encoding="utf-8")
    proc = shell(command + " --max-new-tokens 8 --no-progress", workdir)  # a 256-token model
    assert proc.returncode in (0, 1), proc.stderr  # 1: a random model's answers miss the schema
    assert [line["id"] for line in jsonl(workdir / "out.jsonl")] == ["n1", "n2"]


def test_the_vlm_extract_example_runs_with_a_model_folder(workdir: Path, tiny_vlm: Path) -> None:
    extract = section("Structured extraction with a local LLM")
    assert "hf download HuggingFaceTB/SmolVLM-256M-Instruct --local-dir models/smolvlm" in extract
    command = blocks(extract, "bash")[1].strip().replace("VLM_DIR", str(tiny_vlm))
    (workdir / "scans").mkdir()
    shutil.copy(workdir / "examples" / "invoice.png", workdir / "scans")
    fields = {"number": {"type": "string"}, "total": {"type": "number"}}
    schema = {"type": "object", "properties": fields}
    (workdir / "invoice.json").write_text(json.dumps(schema), encoding="utf-8")
    proc = shell(command + " --max-new-tokens 8 --no-progress", workdir)  # a 256-token model
    assert proc.returncode in (0, 1), proc.stderr
    assert [line["id"] for line in jsonl(workdir / "pages.jsonl")] == ["scans/invoice.png#1"]


def test_the_quickstart_run_command_runs_as_written(workdir: Path) -> None:
    pytest.importorskip("rapidocr")
    command = blocks(section("Quickstart"), "bash")[1].strip()
    assert command == "docfleet run examples/ -o out/"
    proc = shell(command, workdir)
    assert proc.returncode == 0, proc.stderr
    pages = jsonl(workdir / "out" / "pages.jsonl")
    assert sorted(p["id"] for p in pages) == [
        "examples/invoice.png#1", "examples/report.pdf#1", "examples/report.pdf#2",
        "examples/report.pdf#3",
    ]  # fmt: skip
    assert (workdir / "out" / "documents" / "report.pdf.md").is_file()

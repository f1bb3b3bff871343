"""Pipelines as data: stage names from the registry, groups pinned to devices from YAML, stage
options from YAML and --set, and errors that name what is valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docs_factory import one_column_page, reportlab_pdf, scanned_pdf

from docfleet.jobs.run.config import RunConfig
from docfleet.jobs.run.pipeline_spec import GroupSpec, document_stages, pipeline_choices
from docfleet.settings.cascade import ConfigError, resolve_config

pytest.importorskip("rapidocr")


def _records(out: Path) -> dict[str, dict]:
    keep = ("text", "markdown", "text_source", "blocks")
    lines = (out / "pages.jsonl").read_text().splitlines()
    return {r["id"]: {k: r[k] for k in keep} for r in map(json.loads, lines)}


def test_names_come_from_the_registry() -> None:
    assert {"layout", "ocr"} <= set(pipeline_choices())
    assert "render" not in pipeline_choices() and "matmul" not in pipeline_choices()
    assert document_stages("ocr") == ["render", "ocr", "assemble"]
    with pytest.raises(ValueError, match=r"unknown stage\(s\) lyout; join any of layout, ocr"):
        document_stages("lyout+ocr")


def test_groups_pinned_in_yaml_write_what_the_fused_pipeline_writes(cli, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    reportlab_pdf(src / "report.pdf", [one_column_page(), one_column_page()])
    scanned_pdf(src / "scan.pdf")
    config = tmp_path / "groups.yml"
    config.write_text(
        "pipeline:\n"
        "  - stages: [render]\n"
        "    workers: thread\n"
        "  - stages: [layout, ocr]\n"
        "    devices: cpu\n"
        "    replicas: 1\n"
        "  - stages: [assemble]\n"
        "    devices: cpu\n",
        encoding="utf-8",
    )
    fused = cli("run", str(src), "-o", str(tmp_path / "fused"), "--devices", "cpu", "--no-progress")
    grouped = cli("run", str(src), "-o", str(tmp_path / "grouped"), "--devices", "cpu",
                  "--config", str(config), "--no-progress")  # fmt: skip
    assert fused.returncode == grouped.returncode == 0, grouped.stderr
    assert _records(tmp_path / "grouped") == _records(tmp_path / "fused")
    run_json = json.loads((tmp_path / "grouped" / "run.json").read_text())
    assert len(run_json["stats"]["workers"]) >= 3  # a pool per group


def test_stage_options_from_yaml_and_set(cli, tmp_path: Path) -> None:
    config = resolve_config(
        {}, config_file=_yaml(tmp_path, "stages:\n  ocr: {min_score: 0.6}\n"), model=RunConfig
    )
    assert config.stages == {"ocr": {"min_score": 0.6}}
    with pytest.raises(ConfigError, match=r"stage ocr has no option\(s\) min_scor; its options"):
        resolve_config(
            {}, config_file=_yaml(tmp_path, "stages:\n  ocr: {min_scor: 0.6}\n"), model=RunConfig
        )
    with pytest.raises(ConfigError, match="unknown stage 'embedx'"):
        resolve_config({}, config_file=_yaml(tmp_path, "stages:\n  embedx: {}\n"), model=RunConfig)
    with pytest.raises(ConfigError, match="pipeline 'layout\\+foo': unknown stage"):
        resolve_config({"pipeline": "layout+foo"}, model=RunConfig)
    bad = cli("run", str(tmp_path), "-o", str(tmp_path / "o"), "--set", "ocr.min_score=2",
              "--no-progress")  # fmt: skip
    assert bad.returncode == 2 and "ocr.min_score: Input should be less than or equal to 1" in (
        bad.stderr) and "Traceback" not in bad.stderr  # fmt: skip
    shown = cli("run", "--set", "ocr.min_score=0.75", "--print-config", timeout=60)
    assert "min_score: 0.75" in shown.stdout


def test_a_pinned_pipeline_must_render_first_and_assemble_before_records() -> None:
    with pytest.raises(ValueError, match="starts with render"):
        RunConfig(pipeline=[GroupSpec(stages=["ocr", "render"]), GroupSpec(stages=["assemble"])])
    with pytest.raises(ValueError, match="page stages run before assemble"):
        RunConfig(pipeline=[GroupSpec(stages=["assemble"]), GroupSpec(stages=["ocr"])])
    with pytest.raises(ValueError, match="appears twice"):
        RunConfig(pipeline=[GroupSpec(stages=["render", "ocr"]), GroupSpec(stages=["ocr"])])


def test_groups_are_completed_as_joined_pipelines_are() -> None:
    """render and assemble are added to stage groups as ``--pipeline`` adds them."""
    config = RunConfig(pipeline=[GroupSpec(stages=["layout", "ocr"], devices="cpu"),
                                 GroupSpec(stages=["embed"])])  # fmt: skip
    assert [g.stages for g in config.pipeline] == [["render", "layout", "ocr", "assemble"],
                                                   ["embed"]]  # fmt: skip
    assert config.pipeline[0].devices == "cpu"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yml"
    path.write_text(text, encoding="utf-8")
    return path

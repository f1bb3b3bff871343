"""Stages by name: built-ins, and third-party stages through the entry-point group."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from docfleet.engine.registry import available_stages, make_pipeline, make_stage, stage_class
from docfleet.stages.toy import MatMulStage


def test_builtins_resolve_by_name_and_by_import_path():
    assert stage_class("matmul") is MatMulStage
    assert stage_class("docfleet.stages.toy:MatMulStage") is MatMulStage
    assert make_stage("matmul", size=8).options.size == 8
    assert [s.label for s in make_pipeline(["identity", MatMulStage])] == ["identity", "matmul"]


def test_every_builtin_stage_is_registered_under_its_own_name():
    from docfleet.engine.registry import BUILTIN_STAGES

    for name in ("render", "layout", "ocr", "assemble", "embed", "caption", "clip", "bin",
                 "extract"):  # fmt: skip
        assert stage_class(name).name == name
    assert {stage_class(n).name for n in BUILTIN_STAGES} == set(BUILTIN_STAGES)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"known stages: .*assemble.*identity, .*ocr, render"):
        stage_class("no-such-stage")


def test_options_are_validated_and_unknown_keys_rejected():
    with pytest.raises(ValueError, match="siz"):
        MatMulStage(siz=3)
    with pytest.raises(ValueError):
        MatMulStage(size=0)


def test_third_party_stage_registers_through_the_entry_point_group(tmp_path):
    pkg = tmp_path / "acme_stages.py"
    pkg.write_text(
        textwrap.dedent(
            """
            from docfleet.engine.stage import Stage

            class Shout(Stage):
                name = "shout"
                def __call__(self, batch):
                    return [str(x).upper() for x in batch]
            """
        )
    )
    dist = tmp_path / "acme_stages-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-stages\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[docfleet.stages]\nshout = acme_stages:Shout\n")
    code = (
        "from docfleet import Fleet\n"
        "from docfleet.engine.registry import available_stages\n"
        "assert available_stages()['shout'] == 'acme_stages:Shout'\n"
        "rs = Fleet(devices='cpu', workers='thread', progress=False).map('shout', ['a', 'b'])\n"
        "print([r.value for r in rs])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert out.stdout.strip() == "['A', 'B']"
    assert "shout" not in available_stages()

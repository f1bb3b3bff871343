"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_api_example_runs_and_prints_one_line_per_item(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(python_blocks()[2])
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 1000
    assert [int(line.split()[0]) for line in lines] == list(range(1000))


def test_stage_example_runs_on_a_fleet(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(
        python_blocks()[3]
        + "\nif __name__ == '__main__':\n"
        + "    from docfleet import Fleet\n"
        + "    rs = Fleet(devices='cpu', replicas=2, progress=False).map(Upper(), ['a', 'b'])\n"
        + "    print([r.value for r in rs])\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "['A!', 'B!']"


def test_document_and_tensor_examples_run(tmp_path):
    root = README.parent
    for block, expect in [(python_blocks()[0], "report.pdf#1"), (python_blocks()[1], "uint8")]:
        script = tmp_path / "doc_example.py"
        script.write_text(block)
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=True,
            timeout=180, cwd=root,
        )  # fmt: skip
        assert expect in out.stdout


def test_quickstart_commands_match_ci():
    ci = (README.parent / ".ci" / "run").read_text()
    bash = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    install, run, test = (b.strip() for b in bash[:3])
    assert 'pip install --quiet -e ".[dev]"' in ci and 'pip install -e ".[dev]"' in install
    assert run == "docfleet run examples/ -o out/"
    assert test in ci.splitlines()


def test_extraction_example_runs_with_a_local_model(tmp_path):
    pytest.importorskip("transformers")
    from llm_factory import tiny_causal_lm

    model = tiny_causal_lm(tmp_path / "tiny", context=2048)  # room for the repair turns
    script = tmp_path / "extract.py"
    script.write_text(python_blocks()[4].replace("MODEL_DIR", str(model)))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all(line.endswith(" cpu") for line in lines)  # one per note
    assert all(line.startswith("['") for line in lines), lines  # a random model: the problems

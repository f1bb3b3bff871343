"""The README's Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_api_example_runs_and_prints_one_line_per_item(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(python_blocks()[0])
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 1000
    assert [int(line.split()[0]) for line in lines] == list(range(1000))


def test_stage_example_runs_on_a_fleet(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(
        python_blocks()[1]
        + "\nif __name__ == '__main__':\n"
        + "    from docfleet import Fleet\n"
        + "    rs = Fleet(devices='cpu', replicas=2, progress=False).map(Upper(), ['a', 'b'])\n"
        + "    print([r.value for r in rs])\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "['A!', 'B!']"

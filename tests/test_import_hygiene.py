"""``import docfleet`` stays light: no torch, onnxruntime, ray or fastapi."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["torch", "onnxruntime", "ray", "fastapi", "transformers", "pypdfium2", "rapidocr"]


def imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    return [name for name in HEAVY if name in modules]


def test_import_docfleet_pulls_in_no_heavy_library():
    assert imported_after("import docfleet") == []


def test_public_api_and_cli_pull_in_no_heavy_library():
    code = (
        "from docfleet import Fleet, Result, Stage, parse_devices\n"
        "from docfleet.cli.main import build_parser\n"
        "build_parser()\n"
        "Fleet(devices='cpu').devices()"
    )
    assert imported_after(code) == []

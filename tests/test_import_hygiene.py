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


ENGINE = ["fleet", "options", "registry", "results", "stage", "stats", "devices", "discovery",
          "progress", "executors"]  # fmt: skip
JOBS = ["docfleet.ingest", "docfleet.config", "docfleet.pipeline", "docfleet.llm",
        "docfleet.binning", "docfleet.serve", "docfleet.cli"]  # fmt: skip


def test_the_engine_imports_no_job():
    """``Fleet`` and its executors know no job: the document, extraction, binning and serving
    jobs sit on top of the engine, never the other way round (no import cycle)."""
    import ast
    from pathlib import Path

    import docfleet

    root = Path(docfleet.__file__).parent
    files = [p for name in ENGINE for p in ([root / f"{name}.py"] if (root / f"{name}.py").exists()
             else sorted((root / name).glob("*.py")))]  # fmt: skip
    assert len(files) > 10
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])  # fmt: skip
            found += [f"{path.name}: {n}" for n in names if any(
                n == job or n.startswith(job + ".") for job in JOBS)]  # fmt: skip
    assert found == []

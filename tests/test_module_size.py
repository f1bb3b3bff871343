"""Small modules, short functions: no module of the package over 400 lines, no function over
80, so that each file stays one concern a reader takes in at once."""

from __future__ import annotations

import ast
from pathlib import Path

import docfleet

ROOT = Path(docfleet.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in _modules()}  # fmt: skip
    long = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_80_lines() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}


def test_the_package_root_shows_roles_only() -> None:
    """``ls src/docfleet``: packages named after their roles, and the entry points."""
    entries = {p.name for p in ROOT.iterdir() if p.name != "__pycache__"}
    loose = {e for e in entries if e.endswith(".py")} - {"__init__.py", "__main__.py"}
    assert loose == set()
    assert len(entries - {"__init__.py", "__main__.py", "py.typed"}) <= 14

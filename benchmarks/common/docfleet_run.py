"""``docfleet run`` as a user runs it: a subprocess, timed around it, its output files read.

>>> merge_flags(["--ocr", "always", "--dpi", "200"], ["--dpi", "150", "--keep"])
['--ocr', 'always', '--dpi', '150', '--keep']
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from .corpora import Texts


def docfleet_executable() -> list[str]:
    """The ``docfleet`` script of this interpreter's environment (``python -m`` without one)."""
    script = Path(sys.executable).parent / "docfleet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "docfleet"]


def merge_flags(base: list[str], extra: list[str]) -> list[str]:
    """``base`` with ``extra`` appended, a flag already in ``base`` taking ``extra``'s value
    (``--set``, which may come many times, is always appended)."""
    merged = list(base)
    i = 0
    while i < len(extra):
        flag = extra[i]
        value = extra[i + 1] if i + 1 < len(extra) and not extra[i + 1].startswith("--") else None
        repeated = flag == "--set"
        if (
            flag in merged
            and not repeated
            and value is not None
            and merged.index(flag) + 1 < len(merged)
        ):
            merged[merged.index(flag) + 1] = value
        else:
            merged += [flag] if value is None else [flag, value]
        i += 1 if value is None else 2
    return merged


def tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log, joined with `` | `` (empty when there is none)."""
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return " | ".join(text.splitlines()[-lines:])


def read_pages(jsonl: Path, field: str = "text") -> tuple[Texts, int, dict[str, float]]:
    """``field`` of the ok records, the count of the others, the mean seconds of each stage."""
    texts: Texts = {}
    failed = 0
    stages: dict[str, list[float]] = defaultdict(list)
    with open(jsonl, encoding="utf-8") as fh:
        for raw in fh:
            row = json.loads(raw)
            if row.get("status") != "ok" or not row.get("page"):
                failed += 1
                continue
            texts[Path(row["document"]).name, int(row["page"])] = row.get(field) or ""
            for stage, seconds in (row.get("seconds") or {}).items():
                stages[stage].append(float(seconds))
    return texts, failed, {stage: mean(values) for stage, values in stages.items()}


def ocr_counts(jsonl: Path) -> tuple[int, int]:
    """The OCR lines of the ok records and how many of them the cascade read again."""
    lines = reread = 0
    with open(jsonl, encoding="utf-8") as fh:
        for raw in fh:
            ocr = json.loads(raw).get("ocr") or {}
            lines += int(ocr.get("lines") or 0)
            reread += int(ocr.get("reread") or 0)
    return lines, reread


def read_run_json(out: Path) -> dict[str, Any]:
    """``OUT/run.json`` ({} when it is missing or unreadable)."""
    try:
        return json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def run_docfleet(
    inputs: Sequence[Path],
    out: Path,
    options: Sequence[str],
    *,
    timeout: float,
    field: str = "text",
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Time ``docfleet run INPUTS -o OUT OPTIONS`` as a subprocess; its pages and timings.

    Not ``ok`` when it timed out, exited with a code other than 0 or 1 (1: some pages failed)
    or wrote no pages.jsonl. Otherwise the result holds ``texts`` (``field`` of each ok page,
    by file name and page, to be scored), ``pages_failed``, ``stage_seconds``, ``ocr_lines``
    and ``ocr_reread`` (the lines OCR read, those the cascade read again), and from
    run.json ``run_wall_s``, ``startup_s`` and ``engine`` (``run_json_error`` when unreadable).
    """
    command = [*docfleet_executable(), "run", *map(str, inputs), "-o", str(out), *options]
    shown = " ".join(["docfleet", *command[command.index("run") :]])
    log, err = out.with_suffix(".log"), out.with_suffix(".err")
    start = time.perf_counter()
    try:
        with open(log, "w") as stdout, open(err, "w") as stderr:
            proc = subprocess.run(command, stdout=stdout, stderr=stderr, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "command": shown, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    fig: dict[str, Any] = {"ok": False, "command": shown, "returncode": proc.returncode}
    if proc.returncode not in (0, 1) or not (out / "pages.jsonl").exists():
        fig["error"] = f"exit code {proc.returncode}: {tail(err) or tail(log)}"
        return fig
    texts, failed, stages = read_pages(out / "pages.jsonl", field)
    fig.update(ok=True, pages_failed=failed, wall_s=wall)
    try:
        run = json.loads((out / "run.json").read_text())
        fig["run_wall_s"] = float(run["wall_seconds"])
        fig["engine"] = run.get("engine", "local")
        startup = (run.get("stats") or {}).get("startup_seconds")
        if startup is not None:
            fig["startup_s"] = float(startup)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        fig["run_json_error"] = repr(exc)
    fig["stage_seconds"] = stages
    fig["ocr_lines"], fig["ocr_reread"] = ocr_counts(out / "pages.jsonl")
    fig["texts"] = texts
    return fig

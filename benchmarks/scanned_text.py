"""Scoring and running for benchmarks/ocr.py: truth pages, words F1 and CER, docfleet runs.

Texts are scored as the other benchmarks score them: words F1 is
``textfidelity.words_f1`` (NFKC, dot leaders and whitespace runs folded, multisets of
whitespace tokens, case kept) and CER is ``docfleet.page.metrics.cer``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median
from typing import Any

from textfidelity import words_f1

from docfleet.page.metrics import cer

Key = tuple[str, int]  # (document file name, 1-based page)
Texts = dict[Key, str]


def load_truth(path: Path) -> Texts:
    """``{(document, page): text}`` from a truth.jsonl file."""
    truth = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            truth[row["document"], int(row["page"])] = row["text"]
    return truth


def score(texts: Texts, truth: Texts, keys: list[Key]) -> dict[str, Any]:
    """Words F1 and CER over ``keys``, median and mean; a missing page counts as empty text."""
    f1 = [words_f1(texts.get(key, ""), truth[key]) for key in keys]
    rates = [cer(truth[key], texts.get(key, "")) for key in keys]
    worst = max(range(len(keys)), key=rates.__getitem__)
    return {
        "words_f1_median": median(f1),
        "words_f1_mean": mean(f1),
        "cer_median": median(rates),
        "cer_mean": mean(rates),
        "cer_max": rates[worst],
        "cer_max_page": f"{keys[worst][0]}#{keys[worst][1]}",
        "missing_pages": sum(key not in texts for key in keys),
    }


def read_pages(jsonl: Path) -> tuple[Texts, int, dict[str, float]]:
    """Texts of the ok records, the count of the others, the mean seconds of each stage."""
    texts: Texts = {}
    failed = 0
    stages: dict[str, list[float]] = defaultdict(list)
    with open(jsonl, encoding="utf-8") as fh:
        for raw in fh:
            row = json.loads(raw)
            if row.get("status") != "ok" or not row.get("page"):
                failed += 1
                continue
            texts[Path(row["document"]).name, int(row["page"])] = row.get("text") or ""
            for stage, seconds in (row.get("seconds") or {}).items():
                stages[stage].append(float(seconds))
    return texts, failed, {stage: mean(values) for stage, values in stages.items()}


def docfleet_executable() -> list[str]:
    """The ``docfleet`` script of this interpreter's environment (``python -m`` without one)."""
    script = Path(sys.executable).parent / "docfleet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "docfleet"]


def merge_flags(base: list[str], extra: list[str]) -> list[str]:
    """``base`` with ``extra`` appended, a flag already in ``base`` taking ``extra``'s value."""
    merged = list(base)
    i = 0
    while i < len(extra):
        flag = extra[i]
        value = extra[i + 1] if i + 1 < len(extra) and not extra[i + 1].startswith("--") else None
        if flag in merged and value is not None and merged.index(flag) + 1 < len(merged):
            merged[merged.index(flag) + 1] = value
        else:
            merged += [flag] if value is None else [flag, value]
        i += 1 if value is None else 2
    return merged


def tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return " | ".join(text.splitlines()[-lines:])


def run_docfleet(
    inputs: list[Path], out: Path, options: list[str], keys: list[Key], timeout: float
) -> dict[str, Any]:
    """Time ``docfleet run INPUTS -o OUT OPTIONS`` as a subprocess; texts and timings.

    The result holds ``texts`` (to be scored) unless the command failed: an exit code other
    than 0 or 1 (1: some pages failed), or no pages.jsonl / run.json.
    """
    command = [*docfleet_executable(), "run", *map(str, inputs), "-o", str(out), *options]
    shown = " ".join(["docfleet", *command[command.index("run") :]])
    log, err = out.with_suffix(".log"), out.with_suffix(".err")
    start = time.perf_counter()
    try:
        with open(log, "w") as stdout, open(err, "w") as stderr:
            proc = subprocess.run(command, stdout=stdout, stderr=stderr, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "command": shown, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    fig: dict[str, Any] = {"ok": False, "command": shown, "returncode": proc.returncode}
    if proc.returncode not in (0, 1) or not (out / "pages.jsonl").exists():
        fig["error"] = f"exit code {proc.returncode}: {tail(err) or tail(log)}"
        return fig
    texts, failed, stages = read_pages(out / "pages.jsonl")
    pages = len(keys)
    fig.update(ok=True, pages=pages, pages_failed=failed, wall_s=wall, pages_per_s=pages / wall)
    try:
        run = json.loads((out / "run.json").read_text())
        run_wall = float(run["wall_seconds"])
        fig.update(run_wall_s=run_wall, run_pages_per_s=pages / run_wall)
        startup = (run.get("stats") or {}).get("startup_seconds")
        if startup is not None:
            steady = max(1e-9, run_wall - float(startup))
            fig.update(startup_s=float(startup), steady_pages_per_s=pages / steady)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        fig["run_json_error"] = repr(exc)
    fig["stage_seconds"] = stages
    fig["texts"] = texts
    return fig


def in_work_folder(prefix: str, keep: bool, measure: Callable[[Path], dict[str, Any]]) -> Any:
    """``measure(folder)`` in a fresh temporary folder, removed afterwards unless ``keep``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return measure(work)
    finally:
        if keep:
            print(f"outputs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def write_json(figures: dict[str, Any], path: str | None) -> None:
    """The figures as one JSON object at ``path`` (nothing when ``path`` is empty)."""
    if path:
        with open(path, "w") as fh:
            json.dump(figures, fh, indent=2)

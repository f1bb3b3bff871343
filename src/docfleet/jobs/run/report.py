"""What a document run did, for the summary table and ``run.json``."""

from __future__ import annotations

import json
import platform
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from docfleet.engine.stats import RunStats
from docfleet.jobs.run.config import RunConfig
from docfleet.settings.cascade import config_yaml

VERSIONED = (
    "docfleet", "onnxruntime", "onnxruntime-gpu", "rapidocr", "rapid-layout", "pypdfium2", "ray",
)  # fmt: skip


def now_iso() -> str:
    """The local time, to the second, with its offset."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


@dataclass
class RunReport:
    """What a run did: counts, failures by kind, files skipped, per-device stats."""

    out_dir: Path
    total: int = 0
    ok: int = 0
    failed: int = 0
    kept: int = 0  # pages an earlier run already wrote
    not_run: int = 0  # pages left when the run was stopped
    skipped: list[dict[str, str]] = field(default_factory=list)  # files that are no documents
    changed_documents: list[str] = field(default_factory=list)  # redone: changed since
    retried: int = 0  # failed pages of an earlier run, run again
    failures: Counter[str] = field(default_factory=Counter)
    failed_ids: list[str] = field(default_factory=list)
    text_sources: Counter[str] = field(default_factory=Counter)  # this run's ok pages, by source
    ocr_models: Counter[str] = field(default_factory=Counter)  # "cascade on onnxruntime": pages
    wall_seconds: float = 0.0
    started: str = field(default_factory=now_iso)
    ended: str = ""
    stats: RunStats = field(default_factory=RunStats)
    devices: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def pages_per_second(self) -> float:
        """Pages this run did (kept pages not counted) per second."""
        return (self.ok + self.failed) / self.wall_seconds if self.wall_seconds > 0 else 0.0


def write_run_json(
    path: Path,
    config: RunConfig,
    report: RunReport,
    *,
    inputs: list[str],
    command: str,
    page_settings: dict[str, Any],
) -> None:
    """run.json, written whole in one step: settings, inputs, versions, counts and stats."""
    data = {
        "command": command,
        "inputs": inputs,
        "output": str(report.out_dir),
        "started": report.started,
        "ended": report.ended or now_iso(),
        "config": json.loads(json.dumps(config.model_dump(mode="json") | {"password": None})),
        "config_yaml": config_yaml(config.model_copy(update={"password": None})),
        "page_settings": page_settings,
        "versions": {"python": platform.python_version(), **_versions()},
        "engine": config.engine,
        "devices": report.devices,
        "counts": {
            "pages": report.total,
            "ok": report.ok,
            "failed": report.failed,
            "kept": report.kept,
            "not_run": report.not_run,
            "skipped_files": len(report.skipped),
        },
        "skipped": report.skipped,
        "redone": {"changed_documents": report.changed_documents, "retried": report.retried},
        "text_sources": dict(report.text_sources),
        "ocr_models": dict(report.ocr_models),
        "failures": dict(report.failures),
        "failed_ids": report.failed_ids,
        "wall_seconds": report.wall_seconds,
        "pages_per_second": report.pages_per_second,
        "stats": report.stats.to_dict(),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found

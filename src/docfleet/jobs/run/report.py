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

from docfleet.jobs.common.report import EXIT_STOPPED, JobReport
from docfleet.jobs.run.config import RunConfig
from docfleet.settings.cascade import config_yaml

VERSIONED = (
    "docfleet", "onnxruntime", "onnxruntime-gpu", "rapidocr", "rapid-layout", "pypdfium2", "ray",
)  # fmt: skip


def now_iso() -> str:
    """The local time, to the second, with its offset."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


@dataclass
class RunReport(JobReport):
    """What a run did: pages of the input, this run's pages by outcome (``items``, ``ok`` and
    ``failed`` count only those), failures by kind, files skipped, per-device stats."""

    total: int = 0  # pages of the input, kept ones among them
    not_run: int = 0  # pages left when the run was stopped
    skipped: list[dict[str, str]] = field(default_factory=list)  # files that are no documents
    changed_documents: list[str] = field(default_factory=list)  # redone: changed since
    retried: int = 0  # failed pages of an earlier run, run again
    failed_ids: list[str] = field(default_factory=list)
    text_sources: Counter[str] = field(default_factory=Counter)  # this run's ok pages, by source
    ocr_models: Counter[str] = field(default_factory=Counter)  # "cascade on onnxruntime": pages
    started: str = field(default_factory=now_iso)
    ended: str = ""
    devices: list[str] = field(default_factory=list)

    def count(self, line: dict[str, Any]) -> None:
        """Count a page this run wrote: its text source and OCR model, or its id if it failed."""
        super().count(line)
        if line["status"] != "ok":
            self.failed_ids.append(line["id"])
            return
        self.text_sources[line.get("text_source") or "unknown"] += 1
        ocr = line.get("ocr")
        if ocr and ocr.get("model"):
            self.ocr_models[f"{ocr['model']} on {ocr.get('backend', 'onnxruntime')}"] += 1

    @property
    def exit_code(self) -> int:
        """``EXIT_STOPPED`` when pages were left unrun, else as every job's."""
        return EXIT_STOPPED if self.not_run else super().exit_code

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
        "output": str(report.output),
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

"""The main job: documents in, ``pages.jsonl`` + Markdown + ``run.json`` out, resumable."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from docfleet.config import DocumentOptions, RunConfig, config_yaml
from docfleet.fleet import Fleet, ResultStream
from docfleet.pages import PageTask
from docfleet.results import Result
from docfleet.sinks.jsonl import JsonlSink, read_records
from docfleet.sinks.markdown import MarkdownSink
from docfleet.stats import RunStats

VERSIONED = (
    "docfleet", "onnxruntime", "onnxruntime-gpu", "rapidocr", "rapid-layout", "pypdfium2", "ray",
)  # fmt: skip


@dataclass
class RunReport:
    """What a run did: counts, failures by kind, per-device stats."""

    out_dir: Path
    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # already done by an earlier run
    failures: Counter[str] = field(default_factory=Counter)
    failed_ids: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    stats: RunStats = field(default_factory=RunStats)
    devices: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def pages_per_second(self) -> float:
        return (self.ok + self.failed) / self.wall_seconds if self.wall_seconds > 0 else 0.0


def page_tasks(
    inputs: Sequence[str | Path], options: DocumentOptions, *, exclude: Path | None = None
) -> list[PageTask]:
    """Every page of every input document (a document that cannot be opened: one task).

    Files under ``exclude`` (the run's own output folder) are never inputs.
    """
    from docfleet.documents import expand_documents
    from docfleet.inputs import find_inputs

    skip = exclude.resolve() if exclude is not None else None
    paths = [p for p in find_inputs(inputs) if skip is None or not p.resolve().is_relative_to(skip)]
    return list(expand_documents(paths, password=options.password))


def map_pages(fleet: Fleet, tasks: Iterable[PageTask], options: DocumentOptions) -> ResultStream:
    """Run the document pipeline over page tasks on the fleet's devices."""
    from docfleet.pipeline import build_stages

    return fleet.map(build_stages(options), tasks)


def page_record(result: Result) -> dict[str, Any]:
    """The pages.jsonl line for one result: the page record, or an error record."""
    task: PageTask = result.item
    if result.ok:
        record = dict(result.value)
        record.update(status="ok", device=result.device, attempts=result.attempts)
        return record
    error = result.error
    return {
        "id": task.id,
        "document": task.document,
        "page": task.page,
        "pages": task.pages,
        "status": "error",
        "error": {"type": error.type, "message": error.message, "stage": error.stage}
        if error
        else None,
        "device": result.device,
        "attempts": result.attempts,
    }


def run_documents(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    config: RunConfig,
    *,
    on_start: Callable[[ResultStream], None] | None = None,
) -> RunReport:
    """Process every page of ``inputs`` into ``out_dir``; pages done by an earlier run are skipped.

    ``on_start`` receives the result stream once work begins (to ``stop()`` it from a signal).
    """
    from docfleet.pipeline import engine_options

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = RunReport(out_dir=out)
    options = config.document_options()
    tasks = page_tasks(inputs, options, exclude=out)
    report.total = len(tasks)
    markdown = MarkdownSink(out, _common_folder(tasks))
    done = _replay(out / "pages.jsonl", markdown) if config.resume else set()
    todo = [t for t in tasks if t.id not in done]
    report.skipped = len(tasks) - len(todo)

    fleet = Fleet(engine_options(config, cpu_only=_cpu_only(config)))
    if todo:
        report.devices = ["ray"] if config.engine == "ray" else [str(d) for d in fleet.devices()]
    with JsonlSink(out / "pages.jsonl", resume=config.resume) as sink:
        if todo:
            stream = map_pages(fleet, todo, options)
            if on_start is not None:
                on_start(stream)
            for record in _records(stream):
                sink.write(record)
                markdown.add(record)
                _count(report, record)
            report.stats = stream.stats
    report.wall_seconds = time.perf_counter() - started
    write_run_json(out / "run.json", config, report)
    return report


def _records(stream: ResultStream) -> Iterator[dict[str, Any]]:
    with stream:
        for result in stream:
            yield page_record(result)


def _count(report: RunReport, record: dict[str, Any]) -> None:
    if record["status"] == "ok":
        report.ok += 1
        return
    report.failed += 1
    report.failures[record["error"]["type"] if record.get("error") else "unknown"] += 1
    report.failed_ids.append(record["id"])


def _replay(path: Path, markdown: MarkdownSink) -> set[str]:
    done = set()
    for record in read_records(path):
        done.add(record["id"])
        markdown.add(record, replay=True)
    return done


def _common_folder(tasks: Sequence[PageTask]) -> str | None:
    folders = {os.path.dirname(t.document) for t in tasks}
    try:
        return os.path.commonpath(folders) if folders else None
    except ValueError:  # relative and absolute paths mixed
        return None


def _cpu_only(config: RunConfig) -> bool:
    from docfleet.devices import parse_devices

    try:
        return all(d.kind == "cpu" for d in parse_devices(config.devices, num_gpus=config.num_gpus))
    except ValueError:
        return False  # the Fleet reports the device error with its fix


def write_run_json(path: Path, config: RunConfig, report: RunReport) -> None:
    """run.json: the resolved config, versions, per-device stats and counts."""
    data = {
        "config": json.loads(json.dumps(config.model_dump(mode="json") | {"password": None})),
        "config_yaml": config_yaml(config.model_copy(update={"password": None})),
        "versions": {"python": platform.python_version(), **_versions()},
        "engine": config.engine,
        "devices": report.devices,
        "counts": {
            "pages": report.total,
            "ok": report.ok,
            "failed": report.failed,
            "skipped": report.skipped,
        },
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

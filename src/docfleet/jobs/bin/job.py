"""``docfleet bin``: every image (or PDF page) into exactly one bin, or one error record.

The models a ``bins.yml`` needs run as one pipeline on the fleet's devices (OCR and layout
when a rule reads them, a caption model and CLIP only when a rule or a bin's prompts ask for
them); the main process applies the rules and writes ``OUT/bins.jsonl``, one line per page,
resumable like ``docfleet run``'s ``pages.jsonl``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docfleet.engine.stats import RunStats
from docfleet.jobs.bin.config import BinConfig


@dataclass
class BinReport:
    """What a binning run did."""

    output: Path
    items: int = 0
    kept: int = 0
    failed: int = 0
    bins: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, str]] = field(default_factory=list)
    wall_seconds: float = 0.0
    stats: RunStats = field(default_factory=RunStats)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def bin_stages(config: BinConfig, bins: Any) -> list[Any]:
    """The stages the bins need, in order; a rule that reads a model's output without that
    model's folder is a ``ValueError`` naming the flag."""
    from docfleet.stages.bin import BinFeaturesStage
    from docfleet.stages.render import RenderStage

    need = bins.features_needed()
    stages: list[Any] = [RenderStage(dpi=config.dpi, ocr="always", blank_pages=False)]
    if "layout" in need:
        from docfleet.stages.layout import LayoutStage

        stages.append(LayoutStage())
    if "ocr" in need:
        from docfleet.stages.ocr import OcrStage

        stages.append(OcrStage())
    if "caption" in need:
        if not config.caption_model:
            raise ValueError("a rule reads caption: give --caption-model DIR (a BLIP-style model)")
        from docfleet.stages.caption import CaptionStage

        stages.append(CaptionStage(model=config.caption_model))
    if "clip" in need:
        if not config.clip_model:
            raise ValueError("a bin has prompts: give --clip-model DIR (a CLIP model folder)")
        from docfleet.stages.clip import ClipStage

        stages.append(ClipStage(model=config.clip_model, prompts=bins.prompts()))
    stages.append(BinFeaturesStage())
    return stages


def run_bins(inputs: list[str], config: BinConfig, *, command: str = "") -> BinReport:
    """Bin every page of ``inputs`` into ``config.output``."""
    from docfleet.documents.sources import collect_pages
    from docfleet.io.fingerprint import settings_fingerprint
    from docfleet.io.outdir import OutputLock, check_output
    from docfleet.jobs.bin.bins import load_bins

    started = time.perf_counter()
    bins = load_bins(config.bins)  # a bad rule stops here, before any model loads
    stages = bin_stages(config, bins)
    out = Path(config.output)
    check_output(out)
    tasks, skipped = collect_pages(inputs, exclude=out)
    settings = {
        "bins": Path(config.bins).read_text(encoding="utf-8"), "dpi": float(config.dpi),
        "caption_model": config.caption_model, "clip_model": config.clip_model,
    }  # fmt: skip
    report = BinReport(output=out, skipped=skipped)
    out.mkdir(parents=True, exist_ok=True)
    with OutputLock(out, command=command):
        _bin(config, bins, stages, tasks, settings_fingerprint(settings), report)
    report.wall_seconds = time.perf_counter() - started
    return report


def _bin(config: BinConfig, bins: Any, stages: list[Any], tasks: list[Any], fingerprint: str,
         report: BinReport) -> None:  # fmt: skip
    from docfleet.engine.fleet import Fleet
    from docfleet.io.sinks.jsonl import JsonlSink, read_records, rewrite_records
    from docfleet.jobs.bin.rules import RuleError
    from docfleet.jobs.common.records import page_record

    lines = report.output / "bins.jsonl"
    kept = [r for r in read_records(lines) if r.get("settings") == fingerprint] if (
        config.resume and lines.exists()) else []  # fmt: skip
    if lines.exists():
        rewrite_records(lines, kept)  # lines of other settings go; their pages are redone
    done = {r["id"] for r in kept}
    for record in kept:
        _count(report, record)
    report.kept = len(kept)
    todo = [t for t in tasks if t.id not in done]
    engine = config.engine_options(unit="images")
    with JsonlSink(lines, resume=True) as sink:
        if not todo:
            return
        with Fleet(engine).map(stages, todo) as stream:
            for result in stream:
                record = page_record(result) if not result.ok else dict(result.value)
                if result.ok:
                    try:
                        name, why = bins.assign(record["features"])
                        record.update(status="ok", bin=name, rule=why)
                    except RuleError as exc:
                        record.update(status="error", error={"type": "RuleError",
                                                             "message": str(exc)})  # fmt: skip
                record["settings"] = fingerprint
                sink.write(record)
                _count(report, record)
                if record["status"] == "ok" and config.place != "none":
                    place(Path(record["document"]), report.output / record["bin"], config.place)
            report.stats = stream.stats


def _count(report: BinReport, record: dict[str, Any]) -> None:
    report.items += 1
    if record["status"] == "ok":
        report.bins[record["bin"]] += 1
    else:
        report.failed += 1
        report.failures[(record.get("error") or {}).get("type", "error")] += 1


def place(source: Path, folder: Path, how: str) -> Path:
    """``source`` in ``folder`` (copied or hard-linked; a copy where links cannot be made),
    once: a file of another name-twin gets `` (2)`` before its suffix."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    n = 2
    while target.exists():
        if os.path.samefile(target, source) or _same_bytes(target, source):
            return target  # already there (another page of the same document)
        target = folder / f"{source.stem} ({n}){source.suffix}"
        n += 1
    if how == "link":
        try:
            os.link(source, target)
            return target
        except OSError:
            pass  # another file system: copy instead
    shutil.copy2(source, target)
    return target


def _same_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()

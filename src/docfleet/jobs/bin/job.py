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

from docfleet.jobs.bin.config import BinConfig
from docfleet.jobs.common.report import JobReport


@dataclass
class BinReport(JobReport):
    """What a binning run did: pages by bin, the files skipped. Lines kept from an earlier run
    are counted too (in ``items``, ``ok`` and ``failed``) and in ``kept``."""

    bins: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def count(self, line: dict[str, Any]) -> None:
        """Count a line, and its page in its bin."""
        super().count(line)
        if line["status"] == "ok":
            self.bins[line["bin"]] += 1


def bin_stages(config: BinConfig, bins: Any) -> list[Any]:
    """The stages the bins need, in order; a rule that reads a model's output without that
    model's folder is a ``ValueError`` naming the flag. A PDF page's text comes from its text
    layer or from OCR as ``docfleet run`` decides (``config.ocr``)."""
    from docfleet.stages.bin import BinFeaturesStage, BinRenderStage

    need = bins.features_needed()
    pixels = bool(need & {"layout", "caption", "clip"})  # models that look at text-layer pages
    stages: list[Any] = [
        BinRenderStage(dpi=config.dpi, ocr=config.ocr, blank_pages=False, pixels=pixels)
    ]
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
        "ocr": config.ocr,
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
    from docfleet.io.sinks.jsonl import JsonlSink
    from docfleet.jobs.bin.rules import RuleError
    from docfleet.jobs.common.engine import JobEngine
    from docfleet.jobs.common.records import page_record
    from docfleet.jobs.common.resume import Resumed, resume_lines, still_to_do

    lines = report.output / "bins.jsonl"
    kept = Resumed()
    if config.resume:  # lines of other settings go; their pages are redone
        kept = resume_lines(lines, fingerprint)
    for record in kept.lines:
        report.count(record)
    report.kept = len(kept.lines)
    todo = still_to_do(tasks, kept.done)
    engine = JobEngine(unit="images").options(config)
    with JsonlSink(lines, resume=config.resume) as sink:
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
                report.count(record)
                if record["status"] == "ok" and config.place != "none":
                    place(Path(record["document"]), report.output / record["bin"], config.place)
            report.stats = stream.stats


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

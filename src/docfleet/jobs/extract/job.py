"""``docfleet extract``: records in, one JSON line per record out, in input order."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from docfleet.engine.fleet import Fleet
from docfleet.jobs.common.engine import JobEngine
from docfleet.jobs.common.report import JobReport
from docfleet.jobs.extract.config import ExtractConfig
from docfleet.llm.generation.conversation import answer_line, record_error_line
from docfleet.settings.engine import EngineOptions


@dataclass
class ExtractReport(JobReport):
    """What an extraction did: counts, tokens, failures by kind, per-device stats. Lines kept
    from an earlier run are counted too (in ``items``, ``ok`` and ``failed``) and in ``kept``."""

    input_lines: int | None = None  # physical data lines of a record input (None: pages)
    kept_tokens_out: int = 0  # tokens_out of the lines kept
    tokens_in: int = 0
    tokens_out: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # EndpointPool.stats()

    def count(self, line: dict[str, Any]) -> None:
        """Count a line and its tokens."""
        self.tokens_in += line.get("tokens_in", 0)
        self.tokens_out += line.get("tokens_out", 0)
        super().count(line)


def plan_extraction(config: ExtractConfig) -> Any | None:
    """The placement ``extract`` uses (see ``docfleet plan``); ``None`` on the Ray engine, where
    every actor holds a whole copy. Raises ``PlanError`` (a ``ValueError``) when nothing fits.
    """
    from docfleet.llm.placement.planner import plan_for_machine
    from docfleet.runtimes.footprint import parse_size, read_config, safetensors_files

    if config.engine == "ray":
        if config.strategy not in ("auto", "replicate", "cpu"):
            raise ValueError(
                f"--strategy {config.strategy} splits one model over several devices of one "
                "machine; the Ray engine runs a whole copy per actor: use --engine local, or "
                "--strategy replicate/auto"
            )
        return None
    read_config(Path(config.model))  # no folder or no config.json: said first
    safetensors_files(Path(config.model))  # extract loads the weights; `docfleet plan` need not
    return plan_for_machine(
        config.model, devices=config.devices, num_gpus=config.num_gpus, dtype=config.dtype,
        strategy=config.strategy, split_margin=parse_size(config.split_margin),
        single_margin=parse_size(config.single_margin),
    )  # fmt: skip


def run_extract(
    config: ExtractConfig,
    *,
    plan: Any = "auto",
    command: str = "",
    wait: bool = False,
    on_plan: Callable[[Any], None] | None = None,
    api_key: str | None = None,
    pool_options: dict[str, Any] | None = None,
) -> ExtractReport:
    """Extract from every record of ``config.input`` into ``config.output``, in input order.

    With ``config.model``, a local model: ``plan`` is the placement: ``"auto"`` asks
    :func:`plan_extraction` once the prompts, schema and records have been checked (a usage
    error never waits for planning), then tells ``on_plan``; ``None`` loads the whole model on
    each worker's device. With ``config.endpoint``, model servers, sent ``api_key`` (default:
    the variable ``config.api_key_env`` names); ``pool_options`` tunes their pool beyond the
    config (``max_attempts``, ``backoff``, ``cool_down`` of ``EndpointSettings``). One run
    writes to an output file at a time: another one raises ``OutputError`` naming it, unless
    ``wait``.
    """
    from docfleet.io.fingerprint import settings_fingerprint
    from docfleet.io.outdir import OutputLock, check_output_file

    started = time.perf_counter()
    turns = _turns(config)  # read; plan the work; resume and write
    records = _read_inputs(config)
    good = [r for r in records if not r.error]
    if good:
        from docfleet.llm.records.prompts import validate_columns

        validate_columns(turns.templates, set(good[0].fields))
    work, settings = _work(config, turns, plan, on_plan, api_key, pool_options or {})
    out = Path(config.output)
    check_output_file(out)
    with OutputLock.for_file(out, command=command, wait=wait):
        return _extract(config, work, records, settings, settings_fingerprint(settings), started)


def _work(config: ExtractConfig, turns: Any, plan: Any, on_plan: Any, api_key: str | None,
          pool_options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """What answers the records (the local model, or servers), and the settings it answers with.

    The fingerprint of a server run holds the served model's name, not the URLs or the key:
    the same model on other servers may finish a run. A local model is named by its folder.
    """
    settings = {
        "turns": [t.text for t in turns.templates], "system": turns.system,
        "json_schema": turns.json_schema, "parse_json": turns.parse_json,
        "max_repairs": turns.max_repairs, "max_new_tokens": config.max_new_tokens,
        "dpi": config.dpi, **({"image_column": config.image_column} if config.image_column else {}),
    }  # fmt: skip
    if config.endpoint:
        from docfleet.llm.endpoints.extract import OnEndpoints, endpoint_settings

        work = OnEndpoints(endpoint_settings(config, api_key, **pool_options), turns, config)
        return work, {"served_model": config.served_model, "temperature": 0.0, **settings}
    if isinstance(plan, str):
        plan = plan_extraction(config)
        if on_plan is not None:
            on_plan(plan)
    model = str(Path(str(config.model)).resolve())
    return _OnDevices(config, _stage(config, turns, plan), plan), {"model": model, **settings}


def _turns(config: ExtractConfig) -> Any:
    """The prompts and the answer checks of every record's conversation (usage errors first)."""
    from docfleet.llm.generation.conversation import Turns
    from docfleet.llm.records.answers import load_schema
    from docfleet.llm.records.prompts import load_prompts

    templates = load_prompts(config.prompt, config.prompt_file)
    schema = load_schema(config.json_schema) if config.json_schema else None
    if schema is not None and config.answer_format == "text":
        raise ValueError("--schema needs JSON answers; drop --answer-format text or the schema")
    return Turns([t.text for t in templates], system=getattr(templates[0], "system", None),
                 json_schema=schema, parse_json=config.answer_format == "json",
                 max_repairs=config.max_repairs)  # fmt: skip


def _stage(config: ExtractConfig, turns: Any, plan: Any) -> Any:
    from docfleet.jobs.extract.stage import CommandExtractStage

    return CommandExtractStage(
        model=config.model, turns=[t.text for t in turns.templates], system=turns.system,
        json_schema=turns.json_schema, parse_json=turns.parse_json,
        max_repairs=turns.max_repairs, max_new_tokens=config.max_new_tokens,
        dtype=config.dtype, placement=plan.to_dict() if plan is not None else None,
        dpi=config.dpi, password=config.password,
    )  # fmt: skip


@dataclass
class _OnDevices:
    """The records through the engine: the local model on this machine's devices, or Ray's."""

    config: ExtractConfig
    stage: Any
    plan: Any

    @contextmanager
    def lines(self, records: list[Any], report: ExtractReport) -> Iterator[Iterator[dict]]:
        good = [r for r in records if not r.error]
        with Fleet(engine_options(self.config, self.plan)).map(self.stage, good) as stream:
            yield _lines(records, stream)
            report.stats = stream.stats


def _extract(
    config: ExtractConfig,
    work: Any,
    records: list[Any],
    settings: dict[str, Any],
    fingerprint: str,
    started: float,
) -> ExtractReport:
    """Keep what an earlier run wrote, have ``work`` do the rest, and write it in input order."""
    from docfleet.io.sinks.jsonl import JsonlSink, read_records, rewrite_records
    from docfleet.jobs.common.resume import Resumed, in_input_order, still_to_do
    from docfleet.jobs.extract.resume import resume_output, save_settings

    out = Path(config.output)
    report = ExtractReport(output=out, plan=work.plan.to_dict() if work.plan else {})
    if records and records[0].page is None and config.limit is None and not config.image_column:
        from docfleet.llm.records.tabular import data_lines

        report.input_lines = data_lines(config.input)
    earlier = Resumed()
    if config.resume:
        earlier = resume_output(out, fingerprint, settings, retry_failed=config.retry_failed)
    save_settings(out, settings)
    for line in earlier.lines:
        report.count(line)
    report.kept, report.kept_tokens_out = len(earlier.lines), report.tokens_out
    all_ids = [r.id for r in records]
    records = still_to_do(records, [line["id"] for line in earlier.lines])
    with JsonlSink(out, resume=config.resume) as sink:
        if records:
            with work.lines(records, report) as lines:
                for line in lines:
                    sink.write({**line, "settings": fingerprint})
                    report.count(line)
    if earlier.retried:  # the redone lines went to the end; every record has its line again
        rewrite_records(out, in_input_order(read_records(out), all_ids))
    report.wall_seconds = time.perf_counter() - started
    return report


def _read_inputs(config: ExtractConfig) -> list[Any]:
    """The (first ``limit``) records of ``config.input``: table rows, or pages (for a VLM)."""
    from docfleet.llm.generation.vision import is_vision_language
    from docfleet.llm.records.image_refs import attach_images
    from docfleet.llm.records.pages import input_kind, read_pages
    from docfleet.llm.records.tabular import read_records

    kind = config.input_kind if config.input_kind != "auto" else input_kind(config.input)
    if kind == "pages" and config.image_column:
        raise ValueError(f"--image-column names a column of CSV/JSONL records, but "
                         f"{config.input} holds PDFs or images; drop --image-column")  # fmt: skip
    shows_images = kind == "pages" or bool(config.image_column)
    # a server's model is not ours to inspect: one that takes no images refuses each request
    if shows_images and config.model and not is_vision_language(config.model):
        shown = f"column {config.image_column!r} names images" if config.image_column else (
            f"{config.input} holds PDFs or images"
        )  # fmt: skip
        raise ValueError(
            f"{shown}, but {config.model} is a text-only model; use a vision-language model "
            "(its config.json has a vision_config), run `docfleet run` first to get the "
            "pages' text, or pass --input-kind records"
        )
    if kind == "pages":
        return read_pages(config.input, password=config.password, limit=config.limit)
    records = islice(
        read_records(config.input, id_column=config.id_column, text_column=config.text_column,
                     encoding=config.encoding), config.limit,
    )  # fmt: skip
    if config.image_column:
        return attach_images(records, config.image_column, password=config.password)
    return list(records)


def _lines(records: list[Any], stream: Any) -> Iterator[dict[str, Any]]:
    """Error records and engine results merged back into input order."""
    for record in records:
        if record.error:
            yield record_error_line(record)
            continue
        result = next(stream)
        line: dict[str, Any] = {"id": record.id, "source": record.source, "device": result.device}
        if not result.ok:
            error = result.error
            line.update(status="error", error={"type": error.type, "message": error.message})
        else:
            line.update(answer_line(result.value))
        yield line


def engine_options(config: ExtractConfig, plan: Any | None) -> EngineOptions:
    """The engine runs one worker per planned replica, on the device the plan gave it; the
    progress bar counts records."""
    devices = config.devices
    workers = config.workers
    if plan is not None and plan.strategy in ("balanced", "offload"):
        workers = "thread"  # one replica spanning several devices lives in this process
        devices = "cpu"
    elif plan is not None and plan.strategy == "replicate":
        devices = ",".join(plan.devices)  # GPUs too small for a copy are left out
    elif plan is not None:
        devices = plan.strategy  # cpu or mps, even on a machine with CUDA GPUs
    elif config.engine == "ray" and config.strategy == "cpu":
        devices = "cpu"  # CPU actors even where the cluster has GPUs
    num_gpus = config.num_gpus if devices == config.devices else None
    chosen = {"devices": devices, "num_gpus": num_gpus, "workers": workers}
    return JobEngine(unit="records", chosen=chosen).options(config)

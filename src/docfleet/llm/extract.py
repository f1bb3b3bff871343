"""``docfleet extract``: records in, one JSON line per record out, in input order."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docfleet.fleet import Fleet
from docfleet.options import EngineOptions
from docfleet.stats import RunStats


class ExtractConfig(BaseModel):
    """Settings of an extraction run; each is a flag, a YAML key and a DOCFLEET_ variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: str = Field(description="Folder of a Hugging Face causal LM or vision-language model.")
    input: str = Field(description="CSV/TSV/JSONL file or folder; or PDFs and images (VLM).")
    input_kind: Literal["auto", "records", "pages"] = Field(
        "auto", description="records (CSV/JSONL rows) or pages (PDF pages, images); auto: by files"
    )
    output: str = Field(description="JSONL file to write, one line per input record.")
    prompt: str | None = Field(None, description="Prompt template with {column} variables.")
    prompt_file: str | None = Field(None, description="Prompt file (text, or YAML with turns).")
    json_schema: str | None = Field(None, description="JSON Schema file the answer must meet.")
    answer_format: Literal["json", "text"] = Field(
        "json", description="json: the answer is parsed as JSON; text: kept as written."
    )
    text_column: str | None = Field(None, description="Column that must hold text.")
    id_column: str | None = Field(None, description="Column with record ids.")
    image_column: str | None = Field(
        None, description="Column naming the image or PDF page (file.pdf#2) a VLM sees."
    )
    encoding: str = Field("utf-8", description="Encoding of CSV/JSONL inputs.")
    dpi: float = Field(144.0, gt=0, description="Resolution of PDF pages shown to a VLM.")
    password: str | None = Field(None, description="Password of encrypted PDF inputs.")
    devices: str = Field("auto", description="auto, cpu, cuda, or cuda:0,cuda:1")
    num_gpus: int | None = Field(None, ge=0, description="First N GPUs (0 = all).")
    strategy: Literal["auto", "replicate", "balanced", "offload", "cpu"] = Field("auto")
    split_margin: str = Field(
        "4GiB", description="Memory left free on each GPU holding part of a split model."
    )
    single_margin: str = Field(
        "2GiB", description="Memory left free on a GPU (or the CPU) holding a whole model."
    )
    batch_size: int | Literal["auto"] = Field("auto", description="Records per batch.")
    max_new_tokens: int = Field(256, ge=1, description="Tokens per answer at most.")
    max_repairs: int = Field(2, ge=0, description="Repair turns for an invalid answer.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field("auto")
    workers: Literal["process", "thread"] = Field("process", description="Worker kind.")
    engine: Literal["local", "ray"] = Field(
        "local", description="local: this machine's devices; ray: a Ray cluster, a copy per actor."
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join (auto, ray://host:port); none starts Ray locally."
    )
    progress: bool | None = Field(None, description="Progress bar (default: on a terminal).")
    limit: int | None = Field(
        None, ge=1, description="Only the first N records (try a prompt; resume does the rest)."
    )
    resume: bool = Field(True, description="Keep the lines already in OUTPUT; do the rest.")
    retry_failed: bool = Field(
        False, description="On resume, redo the records whose lines are errors."
    )

    @field_validator("split_margin", "single_margin")
    @classmethod
    def _a_size(cls, value: str) -> str:
        from docfleet.llm.footprint import parse_size

        parse_size(value)  # names the accepted forms when it cannot read one
        return value


@dataclass
class ExtractReport:
    """What an extraction did: counts, tokens, failures by kind, per-device stats."""

    output: Path
    items: int = 0
    input_lines: int | None = None  # physical data lines of a record input (None: pages)
    skipped: int = 0  # lines kept from an earlier run (counted in items, valid and failed)
    kept_tokens_out: int = 0  # tokens_out of those lines
    valid: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0
    stats: RunStats = field(default_factory=RunStats)
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def plan_extraction(config: ExtractConfig) -> Any | None:
    """The placement ``extract`` uses (see ``docfleet plan``); ``None`` on the Ray engine, where
    every actor holds a whole copy. Raises ``PlanError`` (a ``ValueError``) when nothing fits.
    """
    from docfleet.llm.footprint import parse_size
    from docfleet.llm.planner import plan_for_machine

    if config.engine == "ray":
        if config.strategy not in ("auto", "replicate", "cpu"):
            raise ValueError(
                f"--strategy {config.strategy} splits one model over several devices of one "
                "machine; the Ray engine runs a whole copy per actor: use --engine local, or "
                "--strategy replicate/auto"
            )
        return None
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
) -> ExtractReport:
    """Extract from every record of ``config.input`` into ``config.output``, in input order.

    ``plan`` is the placement: ``"auto"`` asks :func:`plan_extraction` once the prompts, schema
    and records have been checked (a usage error never waits for planning), then tells
    ``on_plan``; ``None`` loads the whole model on each worker's device. One run writes to an
    output file at a time: another one raises ``OutputError`` naming it, unless ``wait``.
    """
    from docfleet.fingerprint import settings_fingerprint
    from docfleet.llm.answers import load_schema
    from docfleet.llm.prompts import load_prompts, validate_columns
    from docfleet.llm.stage import ExtractStage
    from docfleet.outdir import OutputLock, check_output_file

    started = time.perf_counter()
    templates = load_prompts(config.prompt, config.prompt_file)
    schema = load_schema(config.json_schema) if config.json_schema else None
    if schema is not None and config.answer_format == "text":
        raise ValueError("--schema needs JSON answers; drop --answer-format text or the schema")
    records = _read_inputs(config)
    good = [r for r in records if not r.error]
    if good:
        validate_columns(templates, set(good[0].fields))
    if isinstance(plan, str):
        plan = plan_extraction(config)
        if on_plan is not None:
            on_plan(plan)
    stage = ExtractStage(
        model=config.model, turns=[t.text for t in templates], system=_system(templates),
        json_schema=schema, parse_json=config.answer_format == "json",
        max_repairs=config.max_repairs, max_new_tokens=config.max_new_tokens,
        dtype=config.dtype, placement=plan.to_dict() if plan is not None else None,
        dpi=config.dpi, password=config.password,
    )  # fmt: skip
    settings = {
        "model": str(Path(config.model).resolve()), **stage.options.model_dump(
            include={"turns", "system", "json_schema", "parse_json", "max_repairs",
                     "max_new_tokens", "dpi"}),
        **({"image_column": config.image_column} if config.image_column else {}),
    }  # fmt: skip
    fingerprint = settings_fingerprint(settings)
    out = Path(config.output)
    check_output_file(out)
    with OutputLock.for_file(out, command=command, wait=wait):
        return _extract(config, stage, records, settings, fingerprint, plan, started)


def _extract(
    config: ExtractConfig,
    stage: Any,
    records: list[Any],
    settings: dict[str, Any],
    fingerprint: str,
    plan: Any,
    started: float,
) -> ExtractReport:
    from docfleet.llm.resume import in_input_order, save_settings, still_to_do, written_lines
    from docfleet.sinks.jsonl import JsonlSink, read_records, rewrite_records

    out = Path(config.output)
    report = ExtractReport(output=out, plan=plan.to_dict() if plan else {})
    if records and records[0].page is None and config.limit is None and not config.image_column:
        from docfleet.llm.records import data_lines

        report.input_lines = data_lines(config.input)
    earlier = written_lines(out, fingerprint, settings) if config.resume else []
    save_settings(out, settings)
    retried = config.retry_failed and any(line["status"] != "ok" for line in earlier)
    if retried:
        earlier = [line for line in earlier if line["status"] == "ok"]
        rewrite_records(out, earlier)  # an interrupted retry still holds each record at most once
    for line in earlier:
        _count(report, line)
    report.skipped, report.kept_tokens_out = len(earlier), report.tokens_out
    all_ids = [r.id for r in records]
    records = still_to_do(records, [line["id"] for line in earlier])
    good = [r for r in records if not r.error]
    with JsonlSink(out, resume=config.resume) as sink:
        if records:
            with Fleet(engine_options(config, plan)).map(stage, good) as stream:
                for line in _lines(records, stream):
                    sink.write({**line, "settings": fingerprint})
                    _count(report, line)
                report.stats = stream.stats
    if retried:  # the redone lines went to the end; every record has its line again
        rewrite_records(out, in_input_order(read_records(out), all_ids))
    report.wall_seconds = time.perf_counter() - started
    return report


def _read_inputs(config: ExtractConfig) -> list[Any]:
    """The (first ``limit``) records of ``config.input``: table rows, or pages (for a VLM)."""
    from docfleet.llm.image_refs import attach_images
    from docfleet.llm.page_records import input_kind, read_pages
    from docfleet.llm.records import read_records
    from docfleet.llm.vision import is_vision_language

    kind = config.input_kind if config.input_kind != "auto" else input_kind(config.input)
    if kind == "pages" and config.image_column:
        raise ValueError(f"--image-column names a column of CSV/JSONL records, but "
                         f"{config.input} holds PDFs or images; drop --image-column")  # fmt: skip
    if (kind == "pages" or config.image_column) and not is_vision_language(config.model):
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
            yield {
                "id": record.id,
                "status": "error",
                "source": record.source,
                "error": {"type": record.error_type or "BadRecord", "message": record.error},
            }
            continue  # fmt: skip
        result = next(stream)
        line: dict[str, Any] = {"id": record.id, "source": record.source, "device": result.device}
        if not result.ok:
            error = result.error
            line.update(status="error", error={"type": error.type, "message": error.message})
        else:
            line.update(result.value)
            valid = result.value["valid"]
            line["status"] = "ok" if valid else "error"
            if not valid:
                line["error"] = {"type": "InvalidAnswer", "message": "; ".join(line["problems"])}
        yield line


def _count(report: ExtractReport, line: dict[str, Any]) -> None:
    report.items += 1
    report.tokens_in += line.get("tokens_in", 0)
    report.tokens_out += line.get("tokens_out", 0)
    if line["status"] == "ok":
        report.valid += 1
    else:
        report.failed += 1
        report.failures[line["error"]["type"]] += 1


def _system(templates: list[Any]) -> str | None:
    return getattr(templates[0], "system", None) if templates else None


def engine_options(config: ExtractConfig, plan: Any | None) -> EngineOptions:
    """The engine runs one worker per planned replica, on the device the plan gave it."""
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
    return EngineOptions(
        devices=devices, num_gpus=config.num_gpus if devices == config.devices else None,
        workers=workers, batch_size=config.batch_size, progress=config.progress,
        engine=config.engine, ray_address=config.ray_address, unit="records",
    )  # fmt: skip

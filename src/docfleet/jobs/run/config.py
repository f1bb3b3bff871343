"""Settings of ``docfleet run``, resolved once: flags > YAML > ``DOCFLEET_*`` env > defaults."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docfleet.jobs.common.settings import JobSettings, MarkdownSettings
from docfleet.jobs.run.pipeline_spec import GroupSpec, complete_groups, document_stages
from docfleet.page.text_tables import pipeline_reads_tables
from docfleet.runtimes.backend import BackendOptions
from docfleet.settings.cascade import describe_error
from docfleet.settings.engine import EngineOptions, EngineSettings
from docfleet.settings.fields import same_as
from docfleet.stages.ocr import OcrModelChoice, OcrOptions
from docfleet.stages.render import RenderOptions

#: The run's settings that are stage options, each declared once in its stage's options and
#: reached by a short flag as well as by ``--set STAGE.OPTION``: setting -> (option, stages).
STAGE_SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dpi": ("dpi", ("render",)),
    "max_pixels": ("max_pixels", ("render",)),
    "ocr": ("ocr", ("render",)),
    "password": ("password", ("render",)),
    "ocr_model": ("model", ("ocr",)),
    "ocr_det_side": ("det_max_side", ("ocr",)),
    "ocr_rec_batch": ("rec_batch", ("ocr",)),
    "backend": ("backend", ("layout", "ocr", "tables")),
}


class DocumentOptions(BaseModel):
    """How pages are read and analysed: resolution, pixel cap, models, text source.

    Each field but ``pipeline`` and ``stages`` is a stage's option (:data:`STAGE_SETTINGS`),
    declared in that stage's options and only named here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dpi: float = same_as(RenderOptions, "dpi")
    max_pixels: int = same_as(RenderOptions, "max_pixels")
    pipeline: str | list[GroupSpec] = Field(
        "layout+ocr+tables",
        description="Models to run: registered stages joined with + (layout+ocr+tables, ocr, "
        "layout+ocr+embed), or "
        "stage groups pinned to devices (a list of {stages, devices, replicas, batch_size}).",
    )
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Options of each stage by name: {ocr: {min_score: 0.6}}."
    )
    ocr: Literal["auto", "always", "never"] = same_as(RenderOptions, "ocr")
    ocr_model: OcrModelChoice = same_as(OcrOptions, "model")
    ocr_det_side: int = same_as(OcrOptions, "det_max_side")
    ocr_rec_batch: int | None = same_as(OcrOptions, "rec_batch")
    backend: Literal["auto", "onnxruntime", "torch"] = same_as(BackendOptions, "backend")
    password: str | None = same_as(RenderOptions, "password")

    @field_validator("pipeline")
    @classmethod
    def _known_stages(cls, value: str | list[GroupSpec]) -> str | list[GroupSpec]:
        if isinstance(value, str):
            document_stages(value)  # names the stages a pipeline may join
            return value
        return complete_groups(value)

    @field_validator("stages")
    @classmethod
    def _stage_options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, options in value.items():
            check_stage_options(name, options)
        return value

    def stage_options(self, name: str) -> dict[str, Any]:
        """The options of stage ``name``: the run settings it takes (:data:`STAGE_SETTINGS`),
        then its ``stages`` options (``--set``), which win."""
        mine = {option: getattr(self, setting)
                for setting, (option, stages) in STAGE_SETTINGS.items()
                if name in stages}  # fmt: skip
        if name == "render":  # text-layer pages keep pixels for tables when models read them
            mine["table_pixels"] = pipeline_reads_tables(self.stage_names())
        return {**mine, **self.stages.get(name, {})}

    def stage_names(self) -> list[str]:
        """The stages the pipeline runs, in order (of every group, when pinned)."""
        if isinstance(self.pipeline, str):
            return document_stages(self.pipeline)
        return [name for group in self.pipeline for name in group.stages]


def check_stage_options(name: str, options: dict[str, Any]) -> None:
    """Refuse options stage ``name`` does not have, or values its options refuse, with the
    message the same value gets through the run setting that names it (``--dpi``)."""
    from docfleet.engine.registry import stage_class

    try:
        known = stage_class(name).Options
    except KeyError as exc:
        raise ValueError(str(exc).strip("'\"")) from None
    unknown = sorted(set(options) - set(known.model_fields))
    if unknown:
        raise ValueError(f"stage {name} has no option(s) {', '.join(unknown)}; its "
                         f"options: {', '.join(known.model_fields)}")  # fmt: skip
    try:
        known(**options)
    except ValidationError as exc:
        shorts = {(option, stage): setting for setting, (option, stages) in STAGE_SETTINGS.items()
                  for stage in stages}  # fmt: skip
        problems = []
        for err in exc.errors():
            option = ".".join(str(p) for p in err["loc"])
            problems.append(describe_error(shorts.get((option, name), f"{name}.{option}"), err))
        raise ValueError("; ".join(problems)) from None


class RunConfig(EngineSettings, DocumentOptions):
    """Everything a document run needs: the page settings (:class:`DocumentOptions`), the
    engine's (:class:`~docfleet.settings.engine.EngineSettings`) and the run's own. Each field is
    also a flag, a YAML key and a DOCFLEET_ variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto", description="Replicas per device (auto: one per GPU, or one per core on CPU)."
    )
    cpu_threads: int | None = same_as(EngineOptions, "cpu_threads")
    resume: bool = same_as(
        JobSettings, "resume", description="Skip pages already in OUT/pages.jsonl."
    )
    page_timeout: float | None = Field(
        300.0, gt=0, description="Seconds a page may take before its worker is replaced."
    )
    keep_furniture: bool = same_as(MarkdownSettings, "keep_furniture")
    format: Literal["jsonl", "parquet"] = Field(
        "jsonl",
        description="Where embed's chunks go: jsonl (in pages.jsonl, with their vectors) or "
        "parquet (OUT/chunks.parquet; pages.jsonl keeps a count).",
    )

    def document_options(self) -> DocumentOptions:
        """The part of the settings that the stages take."""
        return DocumentOptions(**{k: getattr(self, k) for k in DocumentOptions.model_fields})

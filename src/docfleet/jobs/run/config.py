"""Settings of ``docfleet run``, resolved once: flags > YAML > ``DOCFLEET_*`` env > defaults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docfleet.jobs.run.pipeline_spec import GroupSpec, check_groups, document_stages
from docfleet.settings.engine import EngineSettings


class DocumentOptions(BaseModel):
    """How pages are read and analysed: resolution, pixel cap, models, text source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dpi: float = Field(150, gt=0, le=1200, description="Rendering resolution of PDF pages.")
    max_pixels: int = Field(
        40_000_000, ge=10_000, description="Pixel cap per page; larger pages are downscaled."
    )
    pipeline: str | list[GroupSpec] = Field(
        "layout+ocr",
        description="Models to run: registered stages joined with + (layout+ocr, ocr+embed), or "
        "stage groups pinned to devices (a list of {stages, devices, replicas, batch_size}).",
    )
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Options of each stage by name: {ocr: {min_score: 0.6}}."
    )
    ocr: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: the PDF text layer where it has real text, OCR elsewhere."
    )
    ocr_model: Literal["auto", "tiny", "small", "cascade"] = Field(
        "auto",
        description="OCR models: tiny, small, or cascade (tiny, with unsure lines read again by "
        "the small recogniser); auto: cascade on CPU, small on GPUs.",
    )
    ocr_det_side: int = Field(
        1280, ge=0, description="Longest side of the text detector's input, px (0: rapidocr's)."
    )
    ocr_rec_batch: int | None = Field(
        None, ge=1, description="Same-width text lines per recognition batch (8 CPU, 32 GPU)."
    )
    backend: Literal["auto", "onnxruntime", "torch"] = Field(
        "auto",
        description="Runtime of the layout and OCR models: onnxruntime, or torch (the same "
        "networks in PyTorch, pages batched); auto: torch on CUDA GPUs, onnxruntime on CPUs.",
    )
    password: str | None = Field(None, description="Password for encrypted PDFs.")

    @field_validator("pipeline")
    @classmethod
    def _known_stages(cls, value: str | list[GroupSpec]) -> str | list[GroupSpec]:
        if isinstance(value, str):
            document_stages(value)  # names the stages a pipeline may join
            return value
        return check_groups(value)

    @field_validator("stages")
    @classmethod
    def _stage_options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from docfleet.engine.registry import stage_class

        for name, options in value.items():
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
                raise ValueError(f"stage {name}: {exc.errors()[0]['msg']}") from None
        return value


class RunConfig(EngineSettings, DocumentOptions):
    """Everything a document run needs: the page settings (:class:`DocumentOptions`), the
    engine's (:class:`~docfleet.settings.engine.EngineSettings`) and the run's own. Each field is
    also
    a YAML key and a DOCFLEET_ variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: int | Literal["auto"] = Field(
        "auto", description="Replicas per device (auto: one per GPU, or one per core on CPU)."
    )
    cpu_threads: int | None = Field(None, ge=1, description="Intra-op threads per replica.")
    resume: bool = Field(True, description="Skip pages already in OUT/pages.jsonl.")
    page_timeout: float | None = Field(
        300.0, gt=0, description="Seconds a page may take before its worker is replaced."
    )
    format: Literal["jsonl", "parquet"] = Field(
        "jsonl",
        description="Where embed's chunks go: jsonl (in pages.jsonl, with their vectors) or "
        "parquet (OUT/chunks.parquet; pages.jsonl keeps a count).",
    )

    def document_options(self) -> DocumentOptions:
        """The part of the settings that the stages take."""
        return DocumentOptions(**{k: getattr(self, k) for k in DocumentOptions.model_fields})

"""The page options a request may set for its own job (form fields of ``/v1/jobs`` and
``/v1/convert``); the options it leaves unset are the server's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from docfleet.jobs.run.config import DocumentOptions
from docfleet.jobs.run.pipeline_spec import document_stages
from docfleet.settings.cascade import describe_error
from docfleet.settings.fields import same_as


class JobOptions(BaseModel):
    """Page options a job may set (form fields); unset ones are the server's. Each is the run
    setting of the same name (declared once, in its stage's options), limits and help alike."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline: str | None = same_as(DocumentOptions, "pipeline", default=None)  # + joined only
    ocr: Literal["auto", "always", "never"] | None = same_as(DocumentOptions, "ocr", default=None)
    dpi: float | None = same_as(DocumentOptions, "dpi", default=None)

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, value: str | None) -> str | None:
        if value is not None:
            document_stages(value)  # names the stages it may join
        return value


def explain(exc: ValidationError) -> str:
    """A request's wrong options in the words ``docfleet run`` uses for the same values."""
    return "; ".join(describe_error(".".join(map(str, e["loc"])), e) for e in exc.errors())

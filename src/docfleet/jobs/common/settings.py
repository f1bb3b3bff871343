"""Settings every job has, declared once: each job's settings take them by name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JobSettings(BaseModel):
    """What every job does with an output written before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resume: bool = Field(
        True, description="Keep what an earlier run of the same settings wrote; do the rest."
    )


class MarkdownSettings(BaseModel):
    """What a job's Markdown files hold (``documents/<name>.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keep_furniture: bool = Field(
        False,
        description="Keep running headers, footers and page numbers in the Markdown (left out "
        "by default; pages.jsonl types them header and footer either way).",
    )

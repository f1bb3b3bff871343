"""Settings every job has, declared once: each job's settings take them by name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JobSettings(BaseModel):
    """What every job does with an output written before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resume: bool = Field(
        True, description="Keep what an earlier run of the same settings wrote; do the rest."
    )

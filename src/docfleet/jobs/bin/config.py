"""Settings of ``docfleet bin``: the bins file, the models its rules need, the output."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from docfleet.jobs.common.settings import JobSettings
from docfleet.settings.engine import EngineOptions, EngineSettings
from docfleet.settings.fields import same_as
from docfleet.stages.render import RenderOptions


class BinConfig(EngineSettings):
    """Settings of a binning run (the engine's among them); each is a flag, a YAML key and a
    ``DOCFLEET_`` variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    bins: str = Field(description="The bins.yml file: bins, their rules and prompts.")
    output: str = Field(
        description="Output folder: bins.jsonl, and the bins with --place.",
        json_schema_extra={"flags": ["-o", "--output"]},
    )
    caption_model: str | None = Field(None, description="Folder of a BLIP-style caption model.")
    clip_model: str | None = Field(None, description="Folder of a CLIP model (bins' prompts).")
    place: Literal["none", "copy", "link"] = Field(
        "none", description="Put each file into OUT/<bin>/: copy it, or hard-link it."
    )
    dpi: float = same_as(RenderOptions, "dpi")
    ocr: Literal["auto", "always", "never"] = same_as(RenderOptions, "ocr")
    replicas: int = same_as(EngineOptions, "replicas")
    resume: bool = same_as(
        JobSettings, "resume", description="Keep the lines already in bins.jsonl."
    )

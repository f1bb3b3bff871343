"""Settings of ``docfleet bin``: the bins file, the models its rules need, the output."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from docfleet.settings.engine import EngineSettings


class BinConfig(EngineSettings):
    """Settings of a binning run (the engine's among them); each is a flag, a YAML key and a
    ``DOCFLEET_`` variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    bins: str = Field(description="The bins.yml file: bins, their rules and prompts.")
    output: str = Field(description="Output folder: bins.jsonl, and the bins with --place.")
    caption_model: str | None = Field(None, description="Folder of a BLIP-style caption model.")
    clip_model: str | None = Field(None, description="Folder of a CLIP model (bins' prompts).")
    place: Literal["none", "copy", "link"] = Field(
        "none", description="Put each file into OUT/<bin>/: copy it, or hard-link it."
    )
    dpi: float = Field(150, gt=0, le=1200, description="Resolution PDF pages are seen at.")
    replicas: int = Field(1, ge=1, description="Replicas per device.")
    resume: bool = Field(True, description="Keep the lines already in bins.jsonl.")

"""Settings of a model's placement, declared once: ``docfleet plan`` takes them as flags, and
``docfleet extract`` (flags, YAML keys, ``DOCFLEET_*`` variables) takes the same fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from docfleet.settings.engine import EngineSettings
from docfleet.settings.fields import same_as


def _a_size(value: str) -> str:
    from docfleet.runtimes.footprint import parse_size

    parse_size(value)  # names the accepted forms when it cannot read one
    return value


#: A memory size as written by people: 4GiB, 512MiB, 8GB (binary or decimal units).
Size = Annotated[str, AfterValidator(_a_size)]


class PlacementSettings(BaseModel):
    """Where a model's weights go: the strategy, the weights' precision and the memory each
    device keeps free."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: str = Field(
        description="Folder of a saved Hugging Face model (config.json + safetensors)."
    )
    devices: str | list[str] = same_as(EngineSettings, "devices")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto",
        description="Precision of the model's weights (auto: the checkpoint's on GPUs, float32 "
        "on the CPU).",
    )
    strategy: Literal["auto", "replicate", "balanced", "offload", "cpu", "mps"] = Field(
        "auto",
        description="Placement: replicate per GPU, balanced split across GPUs, offload to CPU "
        "and disk, cpu, mps; auto: replicate where the model fits, else split, else offload.",
    )
    split_margin: Size = Field(
        "4GiB", description="Memory left free on each GPU holding part of a split model."
    )
    single_margin: Size = Field(
        "2GiB", description="Memory left free on a GPU (or the CPU) holding a whole model."
    )
    gpu_memory: str | None = Field(
        None,
        description="Plan for other GPUs: cuda:0.. with these free sizes, e.g. 24GiB,24GiB "
        "(default: the free memory of this machine's GPUs).",
    )
    cpu_memory: Size | None = Field(
        None, description="CPU memory for weights, e.g. 64GiB (default: this machine's)."
    )

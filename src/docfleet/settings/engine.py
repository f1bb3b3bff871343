"""Engine options: how a run spreads over devices and what it does when things fail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EngineSettings(BaseModel):
    """The engine settings every job offers its users, defined once: ``docfleet run``,
    ``extract``, ``bin`` and ``serve`` take them as flags, YAML keys and ``DOCFLEET_`` variables,
    and :meth:`engine_options` turns them into the engine's :class:`EngineOptions`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    devices: str | list[str] = Field(
        "auto", description="auto (all GPUs, else CPU), cpu, mps, cuda, or a list: cuda:0,cuda:2"
    )
    num_gpus: int | None = Field(
        None, ge=0, description="Use the first N visible GPUs (0 = all; CPU when there are none)."
    )
    engine: Literal["local", "ray"] = Field(
        "local", description="local: this machine's devices; ray: a Ray cluster (Ray Data)."
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join (auto, ray://host:port); none starts Ray locally."
    )
    workers: Literal["process", "thread"] = Field(
        "process", description="Replicas as spawned processes (isolated) or threads (cheap)."
    )
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto", description="Items per batch, or auto for the stage's preferred size."
    )
    progress: bool | None = Field(
        None, description="Show a progress bar (default: when stderr is a terminal)."
    )
    max_attempts: int = Field(
        3, ge=1, description="Runs of an item whose worker dies before it gets an error result."
    )

    @field_validator("devices")
    @classmethod
    def _one_string(cls, value: str | list[str]) -> str:
        """A YAML list of devices reads as the flag's comma-separated form."""
        return value if isinstance(value, str) else ",".join(str(v).strip() for v in value)

    def engine_options(self, **overrides: Any) -> EngineOptions:
        """These settings (and those of :class:`EngineOptions` this model also has, such as
        ``replicas``), with ``overrides`` on top, as the engine's options."""
        shared = {k: getattr(self, k) for k in EngineOptions.model_fields if hasattr(self, k)}
        return EngineOptions(**{**shared, **overrides})


class EngineOptions(EngineSettings):
    """Typed, validated settings of the local engine (unknown keys are errors)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: int = Field(1, ge=1, description="Replicas per listed device.")
    cpu_threads: int | None = Field(
        None, ge=1, description="Intra-op threads per replica (default: cores / replicas)."
    )
    item_timeout: float | None = Field(
        None, gt=0, description="Seconds an item may run before its worker is replaced."
    )
    ordered: bool = Field(True, description="Results in input order (else as they complete).")
    prefetch: int = Field(2, ge=1, description="Batches handed to each worker ahead of time.")
    max_in_flight: int | None = Field(
        None, ge=1, description="Items read ahead of the oldest unreported one (memory bound)."
    )
    shutdown_grace: float = Field(
        30.0, ge=0, description="Seconds workers get to finish their batch when a run stops."
    )
    unit: str = Field("items", description="What the progress bar counts: pages, records...")

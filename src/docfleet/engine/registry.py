"""Stages by name: docfleet's built-ins plus third parties' through an entry-point group.

A package adds stages by declaring, in its ``pyproject.toml``::

    [project.entry-points."docfleet.stages"]
    my-ocr = "my_package.stages:MyOcrStage"
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from docfleet.engine.stage import Stage

ENTRY_POINT_GROUP = "docfleet.stages"

#: Built-in stages, as import paths so that listing them imports nothing heavy.
BUILTIN_STAGES: Mapping[str, str] = {
    "render": "docfleet.stages.render:RenderStage",
    "layout": "docfleet.stages.layout:LayoutStage",
    "ocr": "docfleet.stages.ocr:OcrStage",
    "tables": "docfleet.stages.tables:TablesStage",
    "assemble": "docfleet.stages.assemble:AssembleStage",
    "caption": "docfleet.stages.caption:CaptionStage",
    "clip": "docfleet.stages.clip:ClipStage",
    "embed": "docfleet.stages.embed:EmbedStage",
    "bin": "docfleet.stages.bin:BinFeaturesStage",
    "extract": "docfleet.stages.extract:ExtractStage",
    "identity": "docfleet.stages.toy:IdentityStage",
    "matmul": "docfleet.stages.toy:MatMulStage",
    "sleep": "docfleet.stages.toy:SleepStage",
}

StageSpec = Stage | type[Stage] | str


@dataclass(frozen=True)
class StageGroup:
    """Stages fused in each worker of a pool of their own, on devices of their own.

    Settings left ``None`` are the fleet's. A pipeline of several groups streams items from one
    group's pool to the next through a bounded queue (see :mod:`docfleet.engine.executors.groups`).
    """

    stages: Sequence[StageSpec]
    devices: str | None = None
    replicas: int | None = None
    batch_size: int | None = None
    workers: str | None = None

    def engine_settings(self) -> dict[str, Any]:
        """The fleet settings this group changes."""
        mine = {"devices": self.devices, "replicas": self.replicas,
                "batch_size": self.batch_size, "workers": self.workers}  # fmt: skip
        return {k: v for k, v in mine.items() if v is not None}


PipelineSpec = StageSpec | Sequence[StageSpec] | Sequence[StageGroup]


def available_stages() -> dict[str, str]:
    """Every known stage name and the ``module:Class`` it loads (built-ins, then plugins)."""
    found = dict(BUILTIN_STAGES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def stage_class(name: str) -> type[Stage]:
    """The stage class registered as ``name``, or named directly as ``module:Class``."""
    target = name if ":" in name else available_stages().get(name)
    if target is None:
        known = ", ".join(sorted(available_stages()))
        raise KeyError(f"unknown stage {name!r}; known stages: {known}")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"{target} is not a docfleet Stage subclass")
    return cls


def make_stage(spec: StageSpec, **options: Any) -> Stage:
    """Build a stage from an instance, a class or a name, with ``options`` for its constructor."""
    if isinstance(spec, Stage):
        if options:
            raise TypeError("options can only be given with a stage class or name")
        return spec
    cls = stage_class(spec) if isinstance(spec, str) else spec
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"expected a Stage, a Stage subclass or a stage name, got {spec!r}")
    return cls(**options)


def make_pipeline(spec: PipelineSpec) -> list[Stage]:
    """One stage, or a sequence of stages to fuse in each worker, built by :func:`make_stage`."""
    specs = [spec] if isinstance(spec, (Stage, type, str)) else list(spec)
    if not specs:
        raise ValueError("a pipeline needs at least one stage")
    if any(isinstance(s, StageGroup) for s in specs):
        raise TypeError("stage groups run as pools of their own: give them to Fleet.map")
    return [make_stage(s) for s in specs]  # type: ignore[arg-type]


def stage_groups(spec: PipelineSpec) -> list[StageGroup] | None:
    """The groups of a pipeline given as stage groups; ``None`` for one fused group."""
    if isinstance(spec, (Stage, type, str)):
        return None
    specs = list(spec)
    groups = [s for s in specs if isinstance(s, StageGroup)]
    if not groups:
        return None
    if len(groups) != len(specs):
        raise TypeError("a pipeline is either stages fused in one worker or a list of StageGroup")
    for group in groups:
        if not group.stages:
            raise ValueError("every stage group needs at least one stage")
    return groups

"""Stages by name: docfleet's built-ins plus third parties' through an entry-point group.

A package adds stages by declaring, in its ``pyproject.toml``::

    [project.entry-points."docfleet.stages"]
    my-ocr = "my_package.stages:MyOcrStage"
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from docfleet.stage import Stage

ENTRY_POINT_GROUP = "docfleet.stages"

#: Built-in stages, as import paths so that listing them imports nothing heavy.
BUILTIN_STAGES: Mapping[str, str] = {
    "identity": "docfleet.stages.toy:IdentityStage",
    "matmul": "docfleet.stages.toy:MatMulStage",
    "sleep": "docfleet.stages.toy:SleepStage",
}

StageSpec = Stage | type[Stage] | str
PipelineSpec = StageSpec | Sequence[StageSpec]


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
    return [make_stage(s) for s in specs]

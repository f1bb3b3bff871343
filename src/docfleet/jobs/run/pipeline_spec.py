"""Document pipelines as data: names made of registered stages, or groups pinned to devices.

A pipeline is given as ``+``-joined stage names (``layout+ocr``, ``ocr+embed``): the stages that
look at a page's pixels (``role = "page"``) run between ``render`` and ``assemble``, the stages
that take a page's record (``role = "record"``) after it, each in the registry's order. Or, in
YAML, as groups each on devices of their own::

    pipeline:
      - stages: [render]
      - stages: [layout, ocr]
        devices: cuda:0
      - stages: [assemble, embed]
        devices: cuda:1
        batch_size: 64

Nothing here lists stage or pipeline names by hand: they come from the stage registry, so an
entry-point stage with a role takes part like a built-in one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE, SINK = "render", "assemble"  # every document pipeline starts and ends its pages so


class GroupSpec(BaseModel):
    """One stage group of a pinned pipeline (a YAML ``pipeline:`` entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stages: list[str] = Field(min_length=1, description="Stages fused in each worker.")
    devices: str | None = Field(None, description="This group's devices (default: the run's).")
    replicas: int | None = Field(None, ge=1, description="Replicas per device of this group.")
    batch_size: int | None = Field(None, ge=1, description="Items per batch in this group.")
    workers: Literal["process", "thread"] | None = Field(None, description="Worker kind.")


def stage_roles() -> dict[str, str]:
    """Every registered stage with a document role, in the registry's order: ``source``,
    ``page``, ``assemble`` or ``record``."""
    from docfleet.engine.registry import available_stages, stage_class

    roles = {}
    for name in available_stages():
        try:
            role = getattr(stage_class(name), "role", "")
        except (ImportError, AttributeError, TypeError):
            continue  # a plugin that cannot load takes no part in document pipelines
        if role:
            roles[name] = role
    return roles


def pipeline_choices() -> list[str]:
    """The stages a ``+``-joined pipeline may name (for help texts and errors)."""
    return [n for n, role in stage_roles().items() if role in ("page", "record")]


def document_stages(pipeline: str) -> list[str]:
    """The stage names a ``+``-joined pipeline runs, in order.

    >>> document_stages("layout+ocr")
    ['render', 'layout', 'ocr', 'assemble']
    >>> document_stages("ocr+layout")
    ['render', 'layout', 'ocr', 'assemble']
    """
    roles = stage_roles()
    named = [n.strip() for n in pipeline.split("+") if n.strip()]
    choices = [n for n, role in roles.items() if role in ("page", "record")]
    unknown = [n for n in named if n not in choices]
    if not named or unknown:
        what = f"unknown stage(s) {', '.join(unknown)}" if unknown else "no stage"
        raise ValueError(f"pipeline {pipeline!r}: {what}; join any of {', '.join(choices)} "
                         "with + (render and assemble are added)")  # fmt: skip
    page = [n for n, role in roles.items() if role == "page" and n in named]
    record = [n for n, role in roles.items() if role == "record" and n in named]
    return [SOURCE, *page, SINK, *record]


def complete_groups(groups: list[GroupSpec]) -> list[GroupSpec]:
    """Stage groups completed by the rule ``+``-joined pipelines follow: ``render`` first and
    ``assemble`` after the page stages are added where missing (``render`` at the head of the
    first group, ``assemble`` at the end of the group of the last page stage), then checked as
    :func:`check_groups` does.

    >>> groups = complete_groups([GroupSpec(stages=["layout", "ocr"]), GroupSpec(stages=["embed"])])
    >>> [g.stages for g in groups]
    [['render', 'layout', 'ocr', 'assemble'], ['embed']]
    """
    roles = stage_roles()
    _known(groups, roles)
    stages = [list(g.stages) for g in groups]
    names = [n for group in stages for n in group]
    if SOURCE not in names:
        stages[0].insert(0, SOURCE)
    if SINK not in names:
        last = max((i for i, group in enumerate(stages)
                    for n in group if roles[n] in ("source", "page")), default=0)  # fmt: skip
        stages[last].append(SINK)
    done = [g.model_copy(update={"stages": s}) for g, s in zip(groups, stages, strict=True)]
    return check_groups(done)


def check_groups(groups: list[GroupSpec]) -> list[GroupSpec]:
    """A pinned pipeline must run ``render`` first and ``assemble`` before any record stage,
    each stage once; errors name the valid stages."""
    roles = stage_roles()
    _known(groups, roles)
    names = [n for g in groups for n in g.stages]
    if len(set(names)) != len(names):
        raise ValueError(f"a stage appears twice in pipeline {names}")
    if names[0] != SOURCE or SINK not in names:
        raise ValueError(f"a pipeline starts with {SOURCE} and includes {SINK}: {names}")
    after = names[names.index(SINK) + 1 :]
    misplaced = [n for n in after if roles[n] != "record"]
    early = [n for n in names[: names.index(SINK)] if roles[n] == "record"]
    if misplaced or early:
        raise ValueError(f"page stages run before {SINK}, record stages after it: {names}")
    return groups


def _known(groups: list[GroupSpec], roles: dict[str, str]) -> None:
    unknown = [n for g in groups for n in g.stages if n not in roles]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)} in pipeline; document stages: "
                         f"{', '.join(roles)}")  # fmt: skip


def parse_sets(values: list[str]) -> dict[str, dict[str, Any]]:
    """``["ocr.min_score=0.6", "embed.batch_size=32"]`` -> ``{"ocr": {"min_score": 0.6}, ...}``
    (values read as YAML scalars).

    >>> parse_sets(["ocr.min_score=0.6", "ocr.model=tiny"])
    {'ocr': {'min_score': 0.6, 'model': 'tiny'}}
    """
    import yaml

    found: dict[str, dict[str, Any]] = {}
    for text in values:
        key, sep, raw = text.partition("=")
        stage, dot, option = key.strip().partition(".")
        if not (sep and dot and stage and option):
            raise ValueError(f"--set {text!r}: write STAGE.OPTION=VALUE, e.g. ocr.min_score=0.6")
        found.setdefault(stage, {})[option.replace("-", "_")] = yaml.safe_load(raw)
    return found

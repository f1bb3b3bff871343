"""One declaration per setting: a field that appears in several settings models is declared
once, where it belongs (the stage that uses it), and every other model takes it from there.

:func:`same_as` copies a declared field (type limits, choices, help and default) into another
model, optionally with another default or help text, and records where it came from, so that
a value out of range is refused the same way whichever door it came in through (a flag, a
``--set`` path, a YAML key, a ``DOCFLEET_*`` variable or a request field of the service).

>>> from pydantic import BaseModel, Field
>>> class Render(BaseModel):
...     dpi: float = Field(150, gt=0, le=1200, description="Resolution.")
>>> class Run(BaseModel):
...     dpi: float = same_as(Render, "dpi")
>>> Run().dpi, origin(Run, "dpi")
(150, 'docfleet.settings.fields:Render.dpi')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

_ORIGIN = "declared_in"  # where a copied field was declared, kept in json_schema_extra


def same_as(model: type[BaseModel], name: str, **changes: Any) -> Any:
    """The field ``name`` of ``model`` for another model, with ``changes`` (``default``,
    ``description``) on top; its limits and choices stay the declared ones.

    Typed ``Any`` so that it stands as a field's default, as ``pydantic.Field`` does."""
    declared = model.model_fields[name]
    where = origin(model, name) or f"{model.__module__}:{model.__qualname__}.{name}"
    extra = dict(declared.json_schema_extra or {}) if isinstance(
        declared.json_schema_extra, dict) else {}  # fmt: skip
    extra[_ORIGIN] = where
    return FieldInfo.merge_field_infos(declared, json_schema_extra=extra, **changes)


def origin(model: type[BaseModel], name: str) -> str | None:
    """``"module:Model.field"`` where the field ``name`` of ``model`` was declared, if it was copied
    from there by :func:`same_as`; ``None`` for a field declared in ``model`` itself."""
    extra = model.model_fields[name].json_schema_extra
    return extra.get(_ORIGIN) if isinstance(extra, dict) else None  # type: ignore[return-value]


def cli_flags(model: type[BaseModel], name: str) -> list[str]:
    """The command-line spellings of a setting: ``--max-pixels`` for ``max_pixels``, plus any
    the field declares (``json_schema_extra={"flags": ["-o", "--output"]}``)."""
    extra = model.model_fields[name].json_schema_extra
    declared = extra.get("flags") if isinstance(extra, dict) else None
    return list(declared) if declared else ["--" + name.replace("_", "-")]  # type: ignore[arg-type]

"""Command-line flags derived from settings models: a flag's name, help, default and choices
are its field's, and its value is checked by the field alone (argparse only collects text), so
``--dpi 2000`` is refused with the same message as ``dpi: 2000`` in YAML, ``DOCFLEET_DPI=2000``
or ``--set render.dpi=2000``.

>>> import argparse
>>> from pydantic import BaseModel, Field
>>> class Settings(BaseModel):
...     dpi: float = Field(150, gt=0, description="Resolution of PDF pages.")
...     ocr: Literal["auto", "never"] = Field("auto", description="Where text comes from.")
>>> parser = argparse.ArgumentParser()
>>> add_flags(parser, Settings, ["dpi", "ocr"])
>>> flag_values(parser.parse_args(["--dpi", "200"]), Settings)
{'dpi': 200}
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel

from docfleet.settings.fields import cli_flags

#: The attribute of an argparse action that names the setting it sets (``Model.field``).
SETTING = "docfleet_setting"


def add_flags(group: Any, model: type[BaseModel], names: Iterable[str]) -> None:
    """Add a flag for each of the settings ``names`` of ``model`` to a parser or group."""
    for name in names:
        field = model.model_fields[name]
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": _help(field)}
        if _is_bool(field.annotation):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif _is_list(field.annotation):
            kwargs.update(action="append", metavar=_metavar(field.annotation, name))
        else:
            kwargs["metavar"] = _metavar(field.annotation, name)
        action = group.add_argument(*cli_flags(model, name), **kwargs)
        setattr(action, SETTING, f"{model.__name__}.{name}")


def flag_values(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The settings of ``model`` given as flags (unset flags are left out), each value read
    as its field reads a YAML value: text where the field takes text, else a YAML scalar."""
    found = {}
    for name, field in model.model_fields.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if isinstance(value, list):
            found[name] = [setting_value(field.annotation, v) for v in value]
        else:
            found[name] = setting_value(field.annotation, value)
    return found


def setting_value(annotation: Any, value: Any) -> Any:
    """A value typed on a command line or in the environment, as the field would read it in
    a YAML file: ``"2000"`` is 2000 for a number, stays ``"0123"`` for a password.

    >>> setting_value(float, "2000"), setting_value(str | None, "0123"), setting_value(int, "x")
    (2000, '0123', 'x')
    """
    if not isinstance(value, str) or _takes_text(annotation):
        return value
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (int, float, bool, str)) else value


def _help(field: Any) -> str:
    text = (field.description or "").rstrip(".")
    default = field.default
    if not field.is_required() and default not in (None, False, "", [], {}):
        if default is True:
            shown: Any = "on"
        elif isinstance(default, float) and default.is_integer():
            shown = int(default)
        else:
            shown = default
        text += f" (default: {shown})"
    return text.replace("%", "%%")


def _metavar(annotation: Any, name: str) -> str:
    members = [m for m in _members(annotation) if m is not type(None)]
    choices = [c for m in members if typing.get_origin(m) is Literal for c in typing.get_args(m)]
    kinds = {m for m in members if typing.get_origin(m) is not Literal}
    if choices and not kinds:
        return "{" + ",".join(str(c) for c in choices) + "}"
    if kinds and kinds <= {int, float}:
        return "|".join(["N", *map(str, choices)])
    return name.upper().replace("_", "-")


def _members(annotation: Any) -> list[Any]:
    """The types of a union (``int | None`` -> int, NoneType), or the annotation alone."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def _is_bool(annotation: Any) -> bool:
    return set(_members(annotation)) - {type(None)} == {bool}


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(m) is list for m in _members(annotation)) and not _takes_text(
        annotation)  # fmt: skip


def _takes_text(annotation: Any) -> bool:
    return str in _members(annotation)

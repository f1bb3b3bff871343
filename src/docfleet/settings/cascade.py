"""Settings resolved once, at the edge: flags > YAML file > ``DOCFLEET_*`` env > defaults.

Every job's settings are one pydantic model; this module merges the layers into it and turns
validation errors into one message per wrong setting, naming the valid keys or values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from docfleet.settings.flags import setting_value

ENV_PREFIX = "DOCFLEET_"
M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message names the valid keys or values."""


def resolve_config(
    flags: Mapping[str, Any],
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    model: type[M],
) -> M:
    """Merge the layers: ``flags`` (None values are unset) over the YAML file over env vars."""
    merged: dict[str, Any] = {}
    merged.update(env_settings(environ or {}, model))
    if config_file is not None:
        merged.update(yaml_settings(config_file, model))
    merged.update({k: v for k, v in flags.items() if v is not None})
    return validated(model, merged)


def validated(model: type[M], settings: Mapping[str, Any]) -> M:
    """``model(**settings)``, or a :class:`ConfigError` that says which setting is wrong."""
    try:
        return model(**settings)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, model)) from None


def env_settings(environ: Mapping[str, str], model: type[BaseModel]) -> dict[str, Any]:
    """``DOCFLEET_DPI=200`` -> ``{"dpi": 200}`` (read as the field reads a YAML value); names
    that are no setting of ``model`` are left alone."""
    found = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].lower()
            if key not in model.model_fields:
                continue  # other docfleet variables (not run settings) are not ours to judge
            if value.lower() in ("", "none", "null"):
                continue
            found[key] = setting_value(model.model_fields[key].annotation, value)
    return found


def yaml_settings(path: str | Path, model: type[BaseModel]) -> dict[str, Any]:
    """The settings in a YAML file; keys may use dashes or underscores."""
    data = read_yaml(path, "config file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    settings = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(settings) - set(model.model_fields))
    if unknown:
        valid = ", ".join(model.model_fields)
        named = ", ".join(_with_hint(key, model) for key in unknown)
        raise ConfigError(f"unknown key(s) in {path}: {named}; valid keys: {valid}")
    return settings


def read_yaml(path: str | Path, what: str) -> Any:
    """The YAML document in ``path``, or a :class:`ConfigError` naming ``what`` it is (a config
    file, a bins file) and why it cannot be read."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from None


def _with_hint(key: str, model: type[BaseModel]) -> str:
    """``batchsize (did you mean batch_size?)`` when a valid key is close.

    >>> from docfleet.settings.engine import EngineSettings
    >>> _with_hint("batchsize", EngineSettings)
    'batchsize (did you mean batch_size?)'
    """
    import difflib

    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.75)
    return f"{key} (did you mean {close[0]}?)" if close else key


def config_yaml(config: BaseModel) -> str:
    """The resolved settings as YAML (for --print-config, and to save as a run.yml)."""
    import yaml

    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _explain(exc: ValidationError, model: type[BaseModel]) -> str:
    problems: dict[str, str] = {}
    for err in _merged_unions(exc.errors()):
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] == "extra_forbidden":
            problem = (f"unknown setting {_with_hint(key, model)!r}; "
                       f"valid: {', '.join(model.model_fields)}")  # fmt: skip
        elif err["type"] == "missing":
            flag = "-o/--output" if key == "output" else "--" + key.replace("_", "-")
            problem = f"give {flag} (or {key}: in the --config file)"
        else:
            problem = describe_error(key, err)
        problems.setdefault(key, problem)
    return "; ".join(problems.values())


_UNION_TAG = re.compile(r"^(constrained-\w+|literal\[.*\]|int|float|str|bool|none|"
                        r"list\[.*\]|dict\[.*\]|function-\w+\[.*\])$")  # fmt: skip


def _merged_unions(errors: list[Any]) -> list[Any]:
    """Pydantic reports a value a union refuses once per member (``batch_size.constrained-int``,
    ``batch_size.literal['auto']``); one error per setting reads better: their messages joined
    with "or", the setting named without the members' tags."""
    merged: dict[tuple[Any, ...], Any] = {}
    for err in errors:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p)))
        if loc in merged and merged[loc]["type"] not in ("extra_forbidden", "missing"):
            merged[loc]["msg"] += " or " + err["msg"][0].lower() + err["msg"][1:]
        else:
            merged[loc] = {**err, "loc": loc}
    return list(merged.values())


def describe_error(key: str, err: Any) -> str:
    """One wrong value, named by its setting: ``dpi: Input should be less than or equal to
    1200 (got 2000)``; the same words whichever door the value came in through."""
    if err["type"] == "value_error":  # our validators' messages say it all
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{key}: {err['msg']} (got {err.get('input')!r})"

"""Settings resolved once, at the edge: flags > YAML file > ``DOCFLEET_*`` env > defaults.

Every job's settings are one pydantic model; this module merges the layers into it and turns
validation errors into one message per wrong setting, naming the valid keys or values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
    """``DOCFLEET_DPI=200`` -> ``{"dpi": "200"}``; names that are no run setting are left alone."""
    found = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].lower()
            if key not in model.model_fields:
                continue  # other docfleet variables (not run settings) are not ours to judge
            found[key] = None if value.lower() in ("", "none", "null") else value
    return {k: v for k, v in found.items() if v is not None}


def yaml_settings(path: str | Path, model: type[BaseModel]) -> dict[str, Any]:
    """The settings in a YAML file; keys may use dashes or underscores."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
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
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting {_with_hint(key, model)!r}; "
                            f"valid: {', '.join(model.model_fields)}")  # fmt: skip
        elif err["type"] == "missing":
            flag = "-o/--output" if key == "output" else "--" + key.replace("_", "-")
            problems.append(f"give {flag} (or {key}: in the --config file)")
        elif err["type"] == "value_error":  # our validators' messages say it all
            problems.append(str(err["msg"]).removeprefix("Value error, "))
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(problems)

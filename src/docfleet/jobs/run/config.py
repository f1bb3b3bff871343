"""Settings of ``docfleet run``, resolved once: flags > YAML > ``DOCFLEET_*`` env > defaults."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docfleet.jobs.run.pipeline_spec import GroupSpec, check_groups, document_stages
from docfleet.settings.engine import EngineSettings

ENV_PREFIX = "DOCFLEET_"
M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message names the valid keys or values."""


class DocumentOptions(BaseModel):
    """How pages are read and analysed: resolution, pixel cap, models, text source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dpi: float = Field(150, gt=0, le=1200, description="Rendering resolution of PDF pages.")
    max_pixels: int = Field(
        40_000_000, ge=10_000, description="Pixel cap per page; larger pages are downscaled."
    )
    pipeline: str | list[GroupSpec] = Field(
        "layout+ocr",
        description="Models to run: registered stages joined with + (layout+ocr, ocr+embed), or "
        "stage groups pinned to devices (a list of {stages, devices, replicas, batch_size}).",
    )
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Options of each stage by name: {ocr: {min_score: 0.6}}."
    )
    ocr: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: the PDF text layer where it has real text, OCR elsewhere."
    )
    ocr_model: Literal["auto", "tiny", "small", "cascade"] = Field(
        "auto",
        description="OCR models: tiny, small, or cascade (tiny, with unsure lines read again by "
        "the small recogniser); auto: cascade on CPU, small on GPUs.",
    )
    ocr_det_side: int = Field(
        1280, ge=0, description="Longest side of the text detector's input, px (0: rapidocr's)."
    )
    ocr_rec_batch: int | None = Field(
        None, ge=1, description="Same-width text lines per recognition batch (8 CPU, 32 GPU)."
    )
    backend: Literal["auto", "onnxruntime", "torch"] = Field(
        "auto",
        description="Runtime of the layout and OCR models: onnxruntime, or torch (the same "
        "networks in PyTorch, pages batched); auto: torch on CUDA GPUs, onnxruntime on CPUs.",
    )
    password: str | None = Field(None, description="Password for encrypted PDFs.")

    @field_validator("pipeline")
    @classmethod
    def _known_stages(cls, value: str | list[GroupSpec]) -> str | list[GroupSpec]:
        if isinstance(value, str):
            document_stages(value)  # names the stages a pipeline may join
            return value
        return check_groups(value)

    @field_validator("stages")
    @classmethod
    def _stage_options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from docfleet.engine.registry import stage_class

        for name, options in value.items():
            try:
                known = stage_class(name).Options
            except KeyError as exc:
                raise ValueError(str(exc).strip("'\"")) from None
            unknown = sorted(set(options) - set(known.model_fields))
            if unknown:
                raise ValueError(f"stage {name} has no option(s) {', '.join(unknown)}; its "
                                 f"options: {', '.join(known.model_fields)}")  # fmt: skip
            try:
                known(**options)
            except ValidationError as exc:
                raise ValueError(f"stage {name}: {exc.errors()[0]['msg']}") from None
        return value


class RunConfig(EngineSettings, DocumentOptions):
    """Everything a document run needs: the page settings (:class:`DocumentOptions`), the
    engine's (:class:`~docfleet.settings.engine.EngineSettings`) and the run's own. Each field is
    also
    a YAML key and a DOCFLEET_ variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: int | Literal["auto"] = Field(
        "auto", description="Replicas per device (auto: one per GPU, or one per core on CPU)."
    )
    cpu_threads: int | None = Field(None, ge=1, description="Intra-op threads per replica.")
    resume: bool = Field(True, description="Skip pages already in OUT/pages.jsonl.")
    page_timeout: float | None = Field(
        300.0, gt=0, description="Seconds a page may take before its worker is replaced."
    )
    format: Literal["jsonl", "parquet"] = Field(
        "jsonl",
        description="Where embed's chunks go: jsonl (in pages.jsonl, with their vectors) or "
        "parquet (OUT/chunks.parquet; pages.jsonl keeps a count).",
    )

    def document_options(self) -> DocumentOptions:
        """The part of the settings that the stages take."""
        return DocumentOptions(**{k: getattr(self, k) for k in DocumentOptions.model_fields})


def resolve_config(
    flags: Mapping[str, Any],
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    model: type[M] = RunConfig,  # type: ignore[assignment]
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


def env_settings(environ: Mapping[str, str], model: type[BaseModel] = RunConfig) -> dict[str, Any]:
    """``DOCFLEET_DPI=200`` -> ``{"dpi": "200"}``; names that are no run setting are left alone."""
    found = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].lower()
            if key not in model.model_fields:
                continue  # other docfleet variables (not run settings) are not ours to judge
            found[key] = None if value.lower() in ("", "none", "null") else value
    return {k: v for k, v in found.items() if v is not None}


def yaml_settings(path: str | Path, model: type[BaseModel] = RunConfig) -> dict[str, Any]:
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

    >>> _with_hint("batchsize", RunConfig)
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

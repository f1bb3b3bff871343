"""Every setting is declared once: each CLI flag, ``--set`` path, YAML key, ``DOCFLEET_*``
variable and request field of the service maps to one pydantic field, and a value out of range
is refused with the same message whichever door it came in through."""

from __future__ import annotations

import argparse
import inspect
import typing

import pytest
from pydantic import BaseModel

from docfleet.cli.main import build_parser
from docfleet.engine.registry import BUILTIN_STAGES, stage_class
from docfleet.jobs.bin.config import BinConfig
from docfleet.jobs.extract.config import ExtractConfig
from docfleet.jobs.run.config import STAGE_SETTINGS, DocumentOptions, RunConfig
from docfleet.llm.placement.settings import PlacementSettings
from docfleet.serve.requests import JobOptions
from docfleet.serve.settings import ServeConfig
from docfleet.settings.cascade import ConfigError, resolve_config
from docfleet.settings.engine import EngineOptions
from docfleet.settings.fields import cli_flags, origin
from docfleet.settings.flags import SETTING

#: Each command's settings model: its flags, YAML keys and DOCFLEET_ variables are its fields.
COMMANDS: dict[str, type[BaseModel]] = {
    "run": RunConfig, "extract": ExtractConfig, "bin": BinConfig, "serve": ServeConfig,
    "plan": PlacementSettings,
}  # fmt: skip
#: Flags that steer one invocation and are saved nowhere (no setting): inputs, the output of
#: ``run`` (a positional place, not a setting), the settings file itself, what to print.
NOT_SETTINGS = {
    "run": {"inputs", "output", "config", "print_config", "set_options", "follow_links",
            "retry_failed", "wait"},
    "extract": {"config", "api_key", "wait"},
    "bin": {"inputs", "config"},
    "serve": {"config"},
    "plan": {"json"},
    "doctor": {"json", "devices", "ray_address"},  # what to check, not how to run
}  # fmt: skip
#: Settings reached through YAML (and, for stages, ``--set``) but not a flag of their own.
YAML_ONLY = {"run": {"stages"}, "serve": {"stages", "resume", "format", "progress"}}
#: Names that mean different things in different models, each declared where it belongs.
HOMONYMS = {
    "model",  # the OCR tier (ocr stage), a Hugging Face folder (extract, plan, caption, clip)
    "output",  # a folder (bin) or a JSONL file (extract)
    "replicas",  # per device, or "auto" (one per GPU, one per core) for document runs
    "batch_size",  # items per engine batch, or images per forward pass inside a stage
    "dtype",  # precision of the layout/OCR networks, of a caption/CLIP model, of an LLM
    "prompt",  # a caption model's text prefix, or an extraction's prompt template
    "json_schema",  # a schema file (extract's setting) or the loaded schema (its stage)
    "max_new_tokens",  # a caption's length, or an extraction answer's
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(NOT_SETTINGS))
def test_every_flag_is_one_field_of_the_commands_settings(command: str) -> None:
    parser = _subparsers()[command]
    model = COMMANDS.get(command)
    seen = set()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.dest in NOT_SETTINGS[command]:
            continue
        setting = getattr(action, SETTING, None)
        assert model is not None and setting == f"{model.__name__}.{action.dest}", action
        negations = ["--no-" + f[2:] for f in cli_flags(model, action.dest)]  # --no-resume
        assert action.option_strings in (cli_flags(model, action.dest),
                                         cli_flags(model, action.dest) + negations)  # fmt: skip
        assert action.dest not in seen
        seen.add(action.dest)
    if model is not None:  # and every setting is a flag, but those set in YAML
        assert set(model.model_fields) - seen == YAML_ONLY.get(command, set())


@pytest.mark.parametrize("model", [*COMMANDS.values(), JobOptions], ids=lambda m: m.__name__)
def test_yaml_keys_and_variables_are_the_fields(model: type[BaseModel], tmp_path) -> None:
    """A YAML key or a DOCFLEET_ variable that is no field is refused or ignored, never taken
    as something else; each field is reachable by both."""
    if model is JobOptions:  # request fields: each is the run setting of the same name
        for name in model.model_fields:
            assert name in DocumentOptions.model_fields
        return
    yml = tmp_path / "settings.yml"
    yml.write_text("no_such_setting: 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        resolve_config({}, config_file=yml, environ={}, model=model)
    for name in model.model_fields:
        assert name == name.lower() and name.isidentifier()  # DOCFLEET_<NAME> and <name>:


def _settings_models() -> list[type[BaseModel]]:
    stages = []
    for name in BUILTIN_STAGES:
        try:
            stages.append(stage_class(name).Options)
        except ImportError:  # a stage whose extra is not installed
            continue
    return [*COMMANDS.values(), JobOptions, DocumentOptions, EngineOptions, *stages]


def test_each_setting_is_declared_once() -> None:
    """A field either is declared in its model or names the declaration it copies; copies
    keep the declared limits and choices; and no name is declared twice for one meaning."""
    declared: dict[str, set[str]] = {}
    for model in _settings_models():
        for name, field in model.model_fields.items():
            source = origin(model, name)
            if source is None:  # declared here, or in a class it inherits it from
                owner = next(c for c in model.__mro__ if name in inspect.get_annotations(c))
                declared.setdefault(name, set()).add(f"{owner.__name__}.{name}")
                continue
            root_model, root_name = _find(source)
            root = root_model.model_fields[root_name]
            assert field.metadata == root.metadata, f"{model.__name__}.{name} vs {source}"
            assert _base(field.annotation) <= _base(root.annotation), source
    twice = {n: sorted(where) for n, where in declared.items() if len(where) > 1}
    assert set(twice) <= HOMONYMS, twice


def _find(source: str) -> tuple[type[BaseModel], str]:
    import importlib

    module, _, where = source.partition(":")
    model_name, name = where.split(".")
    return getattr(importlib.import_module(module), model_name), name


def _base(annotation: object) -> set[object]:
    """The types a field takes, ``None`` aside (a request field is optional where the setting
    has a default)."""
    import types

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {a for a in typing.get_args(annotation) if a is not type(None)}
    return {annotation}


def test_run_shortcuts_are_their_stages_options() -> None:
    for setting, (option, stages) in STAGE_SETTINGS.items():
        for stage in stages:
            assert origin(DocumentOptions, setting) is not None
            known = stage_class(stage).Options.model_fields[option]
            assert DocumentOptions.model_fields[setting].metadata == known.metadata
            assert DocumentOptions.model_fields[setting].default == known.default


DPI_2000 = "dpi: Input should be less than or equal to 1200 (got 2000)"


@pytest.mark.parametrize(
    "door",
    ["flag", "set", "yaml", "yaml-stages", "env"],
)
def test_a_value_out_of_range_is_refused_alike_through_every_door(door, tmp_path, capsys):
    from docfleet.cli.main import main

    args = ["run", "examples/report.pdf", "-o", str(tmp_path / "out")]
    environ = {}
    if door == "flag":
        args += ["--dpi", "2000"]
    elif door == "set":
        args += ["--set", "render.dpi=2000"]
    elif door in ("yaml", "yaml-stages"):
        yml = tmp_path / "run.yml"
        yml.write_text("dpi: 2000\n" if door == "yaml" else "stages:\n  render: {dpi: 2000}\n")
        args += ["--config", str(yml)]
    else:
        environ = {"DOCFLEET_DPI": "2000"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in environ.items():
            mp.setenv(key, value)
        assert main(args) == 2
    assert capsys.readouterr().err.strip() == f"docfleet run: error: {DPI_2000}"
    assert not (tmp_path / "out").exists()


def test_the_service_refuses_it_in_the_same_words() -> None:
    from pydantic import ValidationError

    from docfleet.serve.requests import explain

    with pytest.raises(ValidationError) as err:
        JobOptions(dpi=2000)
    assert explain(err.value) == DPI_2000


def test_other_commands_refuse_it_alike(tmp_path, capsys) -> None:
    from docfleet.cli.main import main

    assert main(["bin", "x", "-o", str(tmp_path / "b"), "--bins", "b.yml", "--dpi", "2000"]) == 2
    assert capsys.readouterr().err.strip() == f"docfleet bin: error: {DPI_2000}"
    assert main(["extract", "--model", "m", "--input", "i", "-o", "o.jsonl", "--dpi", "2000"]) == 2
    assert DPI_2000 in capsys.readouterr().err

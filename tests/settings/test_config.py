"""Run settings cascade: flags > YAML > DOCFLEET_* environment > defaults; unknown keys fail."""

from __future__ import annotations

import pytest

from docfleet.jobs.run.config import RunConfig
from docfleet.settings.cascade import ConfigError, config_yaml, resolve_config


def test_defaults_when_nothing_is_set():
    config = resolve_config({}, environ={}, model=RunConfig)
    assert config == RunConfig()
    assert (config.dpi, config.pipeline, config.ocr) == (150, "layout+ocr+tables", "auto")
    assert config.resume is True


def test_flags_beat_yaml_which_beats_env(tmp_path):
    yml = tmp_path / "run.yml"
    yml.write_text("dpi: 200\nocr: always\npage-timeout: 30\n")
    env = {"DOCFLEET_DPI": "100", "DOCFLEET_OCR": "never", "DOCFLEET_DEVICES": "cpu"}
    config = resolve_config(
        {"dpi": 300.0, "ocr": None}, config_file=yml, environ=env, model=RunConfig
    )
    assert config.dpi == 300  # flag
    assert config.ocr == "always"  # YAML over env; the unset flag does not count
    assert config.page_timeout == 30  # YAML with a dashed key
    assert config.devices == "cpu"  # env over default


def test_unknown_yaml_key_names_the_valid_ones(tmp_path):
    yml = tmp_path / "run.yml"
    yml.write_text("dpi: 200\nresolution: 300\n")
    with pytest.raises(ConfigError) as err:
        resolve_config({}, config_file=yml, environ={}, model=RunConfig)
    assert "unknown key(s)" in str(err.value) and "resolution" in str(err.value)
    assert "valid keys: dpi, max_pixels" in str(err.value)


def test_invalid_values_say_which_setting_and_what_was_given(tmp_path):
    with pytest.raises(ConfigError, match=r"ocr: .*'sometimes'"):
        resolve_config({"ocr": "sometimes"}, environ={}, model=RunConfig)
    with pytest.raises(ConfigError, match="dpi"):
        resolve_config({}, environ={"DOCFLEET_DPI": "-5"}, model=RunConfig)
    bad = tmp_path / "bad.yml"
    bad.write_text("dpi: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve_config({}, config_file=bad, environ={}, model=RunConfig)
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_config({}, config_file=tmp_path / "missing.yml", environ={}, model=RunConfig)


def test_printed_config_reads_back_as_the_same_settings(tmp_path):
    config = resolve_config(
        {"dpi": 220.0, "devices": "cuda:0,cuda:1", "replicas": 2}, environ={}, model=RunConfig
    )
    saved = tmp_path / "saved.yml"
    saved.write_text(config_yaml(config))
    assert resolve_config({}, config_file=saved, environ={}, model=RunConfig) == config

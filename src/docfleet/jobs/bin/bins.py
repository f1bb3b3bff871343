"""The ``bins.yml`` file of ``docfleet bin``, and which bin an image goes to.

Bins are tried in file order and the first that takes an image wins. A bin takes it when its
``when`` rule holds (see :mod:`docfleet.jobs.bin.rules`) and, if it has ``prompts``, when CLIP
agrees: the image's similarity to this bin's prompts is at least ``min_similarity`` and is the
highest of all bins with prompts (ties go to the earlier bin), whether or not those bins' rules
hold, so the prompts act as one classifier. A bin with neither ``when`` nor ``prompts`` is the
default bin: at most one, and last. With no default, an image no bin takes is ``unsorted``.

Features are one flat mapping per image, keyed by the names rules use::

    {"text_chars": 1800, "text_lines": 40, "ocr_score": 0.93, "width": 1240, "height": 1754,
     "text": "...", "caption": "", "regions.table": 2, "regions.text": 5, "clip.photos": 0.31}

``caption`` is "" without a caption model; ``clip.<bin>`` exists only for bins with prompts.
The caller supplies every feature the rules use (:meth:`Bins.features_needed` says which
models that takes); a missing one, or a division by zero, raises :class:`RuleError` from
:meth:`Bins.assign`, for the caller to record against that one image.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from numbers import Real
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from docfleet.jobs.bin.rules import Rule, compile_rule
from docfleet.stages.bin import DEFAULT_KINDS

UNSORTED = ("unsorted", "no rule matched")
#: Features every image has, and their types for the rule checker.
SCALAR_FEATURES: dict[str, type] = {
    "text_chars": int,
    "text_lines": int,
    "ocr_score": float,
    "width": int,
    "height": int,
    "text": str,
    "caption": str,
}
#: The model stage each feature comes from (width and height come with the image itself).
_SOURCES = {
    **dict.fromkeys(("text_chars", "text_lines", "ocr_score", "text"), "ocr"),
    **{"caption": "caption", "regions": "layout", "clip": "clip"},
}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BinsError(ValueError):
    """A bins file cannot be used; the message names the file, the bin and the fix."""


class BinSpec(BaseModel):
    """One bin of ``bins.yml``: a folder name and what an image needs to go there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="The bin's folder name: letters, digits, '_', '.', '-'.")
    when: str | None = Field(None, description="A rule on the image's features, e.g. width > 0.")
    prompts: list[str] = Field(
        default_factory=list, description="CLIP prompts; the bin takes images most like them."
    )
    min_similarity: float = Field(
        0.2, ge=0, le=1, description="The least CLIP similarity to the prompts the bin takes."
    )

    @property
    def is_default(self) -> bool:
        """A bin with neither a rule nor prompts takes every image that reaches it."""
        return self.when is None and not self.prompts

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not _SAFE_NAME.fullmatch(name) or name in (".", ".."):
            fixed = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "bin"
            raise ValueError(
                f"{name!r} must be a folder name of letters, digits, '_', '.' and '-' "
                f"(not . or ..), e.g. {fixed!r}"
            )
        return name

    @field_validator("when")
    @classmethod
    def _rule_present(cls, when: str | None) -> str | None:
        if when is not None and not when.strip():
            raise ValueError("when is empty; write a rule, or remove it to make a default bin")
        return when

    @field_validator("prompts")
    @classmethod
    def _prompts_present(cls, prompts: list[str]) -> list[str]:
        if any(not prompt.strip() for prompt in prompts):
            raise ValueError("a prompt is empty; write text such as 'a photo of a cat'")
        return prompts

    @model_validator(mode="after")
    def _similarity_needs_prompts(self) -> BinSpec:
        if "min_similarity" in self.model_fields_set and not self.prompts:
            raise ValueError("min_similarity applies only with prompts; add prompts or remove it")
        return self


class BinsFile(BaseModel):
    """The whole ``bins.yml``: bins tried in order, at most one default bin, and it last."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bins: list[BinSpec] = Field(min_length=1, description="The bins, tried in this order.")

    @model_validator(mode="after")
    def _order(self) -> BinsFile:
        first: dict[str, int] = {}
        for index, spec in enumerate(self.bins, 1):
            if spec.name in first:
                raise ValueError(
                    f"bin {index} ({spec.name!r}) has the name of bin {first[spec.name]}; "
                    "bin names must be unique"
                )
            first[spec.name] = index
        defaults = [i for i, spec in enumerate(self.bins, 1) if spec.is_default]
        if len(defaults) > 1:
            named = " and ".join(f"bin {i} ({self.bins[i - 1].name!r})" for i in defaults)
            raise ValueError(
                f"{named} have neither when nor prompts; only one default bin is allowed"
            )
        if defaults and defaults[0] != len(self.bins):
            i = defaults[0]
            raise ValueError(
                f"bin {i} ({self.bins[i - 1].name!r}) is the default bin (no when, no prompts) "
                "but is not last; the bins after it could never match, so move it to the end"
            )
        return self


def feature_types(region_kinds: Collection[str], prompt_bins: Collection[str]) -> dict[str, type]:
    """Every feature name a rule may use, with its type.

    >>> sorted(feature_types(["table"], ["photos"]))[:3]
    ['caption', 'clip.photos', 'height']
    """
    bad = [kind for kind in region_kinds if not _IDENTIFIER.fullmatch(kind)]
    if bad:
        raise ValueError(f"region kinds must be identifiers ([A-Za-z_][A-Za-z0-9_]*): {bad}")
    regions = {f"regions.{kind}": int for kind in region_kinds}
    return {**SCALAR_FEATURES, **regions, **{f"clip.{name}": float for name in prompt_bins}}


class Bins:
    """The bins of a file with their rules compiled, ready to sort images.

    >>> bins = parse_bins({"bins": [{"name": "text", "when": "text_chars > 0"}, {"name": "rest"}]})
    >>> bins.assign({"text_chars": 12})
    ('text', 'when: text_chars > 0')
    >>> bins.assign({"text_chars": 0})
    ('rest', 'default')
    """

    def __init__(self, file: BinsFile, region_kinds: Collection[str] = DEFAULT_KINDS) -> None:
        self.specs: list[BinSpec] = list(file.bins)
        self._prompt_bins = [spec for spec in self.specs if spec.prompts]
        types = feature_types(region_kinds, [spec.name for spec in self._prompt_bins])
        self._rules: dict[str, Rule] = {}
        for index, spec in enumerate(self.specs, 1):
            if spec.when is None:
                continue
            try:
                self._rules[spec.name] = compile_rule(spec.when, types)
            except ValueError as exc:
                raise BinsError(f"bin {index} ({spec.name!r}): when: {exc}") from None

    def prompts(self) -> dict[str, list[str]]:
        """Bin name -> its prompts, for the CLIP stage to score every image against."""
        return {spec.name: list(spec.prompts) for spec in self._prompt_bins}

    def features_needed(self) -> set[str]:
        """The model stages the bins need: a subset of ``ocr``, ``layout``, ``caption``, ``clip``.

        >>> parse_bins({"bins": [{"name": "a", "when": "regions.table > 0"}]}).features_needed()
        {'layout'}
        """
        names = {name for rule in self._rules.values() for name in rule.names}
        needed = {_SOURCES[name.split(".")[0]] for name in names if name.split(".")[0] in _SOURCES}
        return needed | ({"clip"} if self._prompt_bins else set())

    def assign(self, features: Mapping[str, Any]) -> tuple[str, str]:
        """(bin name, why) for one image's features: the first bin that takes it."""
        best = self._best_prompt_bin(features)
        for spec in self.specs:
            if spec.is_default:
                return spec.name, "default"
            why = []
            rule = self._rules.get(spec.name)
            if rule is not None:
                if not rule(features):
                    continue
                why.append(f"when: {rule.text}")
            if spec.prompts:
                score = _similarity(features, spec.name)
                if spec.name != best or score < spec.min_similarity:
                    continue
                why.append(
                    f"clip.{spec.name} = {score:.3f} >= {spec.min_similarity:g}, the highest"
                )
            return spec.name, "; ".join(why)
        return UNSORTED

    def _best_prompt_bin(self, features: Mapping[str, Any]) -> str | None:
        """The prompt bin the image is most like; the earliest on a tie (max keeps the first)."""
        if not self._prompt_bins:
            return None
        return max(self._prompt_bins, key=lambda spec: _similarity(features, spec.name)).name


def _similarity(features: Mapping[str, Any], name: str) -> float:
    value = features.get(f"clip.{name}")
    if not isinstance(value, Real) or isinstance(value, bool):
        raise BinsError(f"features need clip.{name}, a number (the CLIP stage), got {value!r}")
    return float(value)


def parse_bins(
    data: Any, region_kinds: Collection[str] = DEFAULT_KINDS, *, source: str = "bins file"
) -> Bins:
    """Check the parsed YAML of a bins file and compile its rules; errors start with ``source``."""
    if not isinstance(data, dict):
        raise BinsError(f"{source} must hold a mapping with the key bins: a list of bins")
    try:
        file = BinsFile.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(_explain(error, data) for error in exc.errors())
        raise BinsError(f"{source}:\n  {problems}") from None
    try:
        return Bins(file, region_kinds)
    except BinsError as exc:
        raise BinsError(f"{source}: {exc}") from None


def load_bins(path: str | Path, region_kinds: Collection[str] = DEFAULT_KINDS) -> Bins:
    """Read and check a ``bins.yml``, compiling every rule, so a bad file stops a run at start."""
    from docfleet.settings.cascade import ConfigError, read_yaml

    try:
        data = read_yaml(path, "bins file")
    except ConfigError as exc:
        raise BinsError(str(exc)) from None
    return parse_bins(data, region_kinds, source=str(path))


def _explain(error: Any, data: dict[str, Any]) -> str:
    """One pydantic error as ``bin 2 ('photos'): prompts: ...`` with the fix where known."""
    loc, message = list(error["loc"]), str(error["msg"]).removeprefix("Value error, ")
    where = ""  # a problem of the whole file, or of one bin
    if loc[:1] == ["bins"] and len(loc) > 1 and isinstance(loc[1], int):
        entries = data.get("bins")
        entry = entries[loc[1]] if isinstance(entries, list) else None
        name = f" ({entry['name']!r})" if isinstance(entry, dict) and "name" in entry else ""
        where, loc = f"bin {loc[1] + 1}{name}", loc[2:]
        if not loc and error["type"] == "model_type":
            message = "a bin must be a mapping, e.g. {name: photos, when: text_chars == 0}"
    if error["type"] == "extra_forbidden":
        model = BinSpec if where else BinsFile
        key, valid = str(loc[-1]), list(model.model_fields)
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        message = f"unknown key {key!r}{hint}; valid keys: {', '.join(valid)}"
    elif error["type"] == "missing":
        what = "every bin needs a name" if where else "a list of bins, each with a name"
        message = f"missing key {loc[-1]!r} ({what})"
    elif error["type"] == "too_short" and loc == ["bins"]:
        message = "bins is empty; add at least one bin, e.g. - name: other"
    elif loc:
        message = f"{'.'.join(map(str, loc))}: {message}"
    return f"{where}: {message}" if where else message

"""Settings of ``docfleet extract``: the model or servers, inputs, prompts, answers, placement."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from docfleet.jobs.common.settings import JobSettings
from docfleet.llm.endpoints.chat_types import EndpointSettings
from docfleet.llm.placement.settings import PlacementSettings
from docfleet.settings.engine import EngineSettings
from docfleet.settings.fields import same_as
from docfleet.stages.extract import ExtractOptions

_POOL = {f.name: f.default for f in fields(EndpointSettings)}  # the pool's defaults, in one place
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ExtractConfig(EngineSettings):
    """Settings of an extraction run, the engine's among them (on the Ray engine every actor
    holds a whole copy of the model); each is a flag, a YAML key and a DOCFLEET_ variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: str | None = Field(
        None, description="Folder of a Hugging Face causal LM or VLM (or give endpoint)."
    )
    input: str = Field(description="CSV/TSV/JSONL file or folder; or PDFs and images (VLM).")
    input_kind: Literal["auto", "records", "pages"] = Field(
        "auto", description="records (CSV/JSONL rows) or pages (PDF pages, images); auto: by files"
    )
    output: str = Field(
        description="JSONL file to write, one line per input record.",
        json_schema_extra={"flags": ["-o", "--output"]},
    )
    prompt: str | None = Field(None, description="Prompt template with {column} variables.")
    prompt_file: str | None = Field(None, description="Prompt file (text, or YAML with turns).")
    json_schema: str | None = Field(
        None, description="JSON Schema file the answer must meet.",
        json_schema_extra={"flags": ["--schema"]},
    )  # fmt: skip
    answer_format: Literal["json", "text"] = Field(
        "json", description="json: the answer is parsed as JSON; text: kept as written."
    )
    text_column: str | None = Field(None, description="Column that must hold text.")
    id_column: str | None = Field(None, description="Column with record ids.")
    image_column: str | None = Field(
        None, description="Column naming the image or PDF page (file.pdf#2) a VLM sees."
    )
    encoding: str = Field("utf-8", description="Encoding of CSV/JSONL inputs.")
    dpi: float = same_as(ExtractOptions, "dpi")
    password: str | None = same_as(ExtractOptions, "password")
    strategy: Literal["auto", "replicate", "balanced", "offload", "cpu", "mps"] = same_as(
        PlacementSettings, "strategy"
    )
    split_margin: str = same_as(PlacementSettings, "split_margin")  # checked as a size
    single_margin: str = same_as(PlacementSettings, "single_margin")
    max_new_tokens: int = same_as(ExtractOptions, "max_new_tokens")
    max_repairs: int = same_as(ExtractOptions, "max_repairs")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = same_as(ExtractOptions, "dtype")
    limit: int | None = Field(
        None, ge=1, description="Only the first N records (try a prompt; resume does the rest)."
    )
    resume: bool = same_as(
        JobSettings, "resume", description="Keep the lines already in OUTPUT; do the rest."
    )
    retry_failed: bool = Field(
        False, description="On resume, redo the records whose lines are errors."
    )
    # Model servers instead of a local model (see docfleet.llm.endpoints.extract); the key itself
    # is never a setting: api_key_env names the environment variable that holds it.
    endpoint: list[str] | None = Field(
        None, description="Base URLs of OpenAI-compatible servers (http://gpu0:8000/v1)."
    )
    served_model: str | None = Field(None, description="The model name the servers serve.")
    api_key_env: str | None = Field(None, description="Environment variable with the API key.")
    concurrency: int = Field(_POOL["concurrency"], ge=1, description="Requests per endpoint.")
    requests_per_minute: float | None = Field(None, gt=0, description="Over all endpoints.")
    tokens_per_minute: float | None = Field(None, gt=0, description="Over all endpoints.")
    request_timeout: float = Field(
        _POOL["request_timeout"], gt=0, description="Seconds without progress on a request."
    )
    give_up_after: float = Field(
        _POOL["give_up_after"], gt=0,
        description="Stop the run when no server has answered for this many seconds; the lines "
        "written are kept and a re-run resumes.",
    )  # fmt: skip
    request_attempts: int = Field(
        _POOL["max_attempts"], ge=1, description="Tries of a request before its record fails."
    )
    cool_down: float = Field(
        _POOL["cool_down"], ge=0, description="Seconds a failing server is left out of rotation."
    )

    @field_validator("endpoint", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        """``DOCFLEET_ENDPOINT="http://a/v1,http://b/v1"`` and a YAML string are lists too."""
        return re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else value

    @field_validator("api_key_env")
    @classmethod
    def _a_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):  # never echo it: it may be a key
            raise ValueError("--api-key-env takes the name of an environment variable (letters, "
                             "digits and _, e.g. OPENAI_API_KEY), not the key itself")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _one_model(self) -> ExtractConfig:
        if self.model and self.endpoint:
            raise ValueError("--model and --endpoint are exclusive: --model runs a local model, "
                             "--endpoint sends the records to model servers; give one")  # fmt: skip
        if not self.model and not self.endpoint:
            raise ValueError("give --model (a local model folder) or --endpoint (a model server)")
        if bool(self.endpoint) != bool(self.served_model):
            raise ValueError("--endpoint and --served-model go together: the servers' URLs and "
                             "the model name they serve (GET URL/models lists it)")  # fmt: skip
        return self

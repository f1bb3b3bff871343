"""Settings of ``docfleet serve``: the run settings (devices, page options) and its own."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from docfleet.jobs.run.config import RunConfig


class ServeConfig(RunConfig):
    """Each field is a flag, a YAML key and a ``DOCFLEET_`` variable (``DOCFLEET_API_KEY``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0: every one).")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on (0: any free one).")
    data: str | None = Field(
        None, description="Folder for jobs, uploads and results (default: the user's data "
        "folder, $XDG_DATA_HOME/docfleet/serve or ~/.local/share/docfleet/serve)."
    )  # fmt: skip
    api_key: str | None = Field(
        None, description="Key every request but /healthz must carry (X-Api-Key or Bearer); "
        "several keys separated by commas, each seeing only the jobs it made."
    )  # fmt: skip
    admin_key: str | None = Field(
        None, description="Key that sees, reads and deletes the jobs of every key."
    )
    max_upload_mb: float = Field(100, gt=0, description="Largest request body, in MB.")
    max_pages: int = Field(2000, ge=1, description="Most pages one job may have.")
    max_queue: int = Field(
        20000, ge=1, description="Most pages waiting; past it new jobs get 429 (Retry-After)."
    )
    keep_hours: float = Field(
        168, gt=0, description="Hours finished jobs are kept before they are deleted."
    )
    convert_timeout: float = Field(
        30, gt=0, description="Seconds /v1/convert waits before it answers 202 with the job."
    )
    convert_max_pages: int = Field(
        10, ge=1, description="Most pages /v1/convert takes (larger inputs: POST /v1/jobs)."
    )

    @field_validator("api_key", "admin_key")
    @classmethod
    def _keys(cls, value: str | None) -> str | None:
        if value is not None and any(not k.strip() for k in value.split(",")):
            raise ValueError("an API key is empty: give keys separated by commas, none blank")
        return value

    def user_keys(self) -> tuple[str, ...]:
        """The API keys of ``api_key`` (comma-separated), each owning the jobs it makes.

        >>> ServeConfig(api_key="a1, b2").user_keys(), ServeConfig().user_keys()
        (('a1', 'b2'), ())
        """
        return tuple(k.strip() for k in (self.api_key or "").split(",") if k.strip())

"""The extraction stage: conversations with a local LLM, checked against a JSON schema.

Each item of a batch is a conversation of one or more turns. Every round generates the next
answer of all conversations still open, in one batched call, so multi-turn items interleave
and the device stays busy. An answer that fails the schema gets a repair turn, up to
``max_repairs`` times; then the item is recorded as invalid with its raw text (the turns and
repairs are :mod:`docfleet.llm.generation.conversation`'s, shared with extraction against model
servers).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage, StageOptions
from docfleet.llm.generation.conversation import Turns
from docfleet.llm.generation.generate import BatchGenerator, auto_batch_size, free_memory
from docfleet.llm.placement.settings import PlacementSettings
from docfleet.settings.fields import same_as
from docfleet.stages.render import RenderOptions


class ExtractOptions(StageOptions):
    model: str = Field(description="Folder of a Hugging Face causal LM (config + safetensors).")
    turns: list[str] = Field(description="Prompt templates, one per turn, with {column} variables.")
    system: str | None = Field(None, description="System message before the first turn.")
    json_schema: dict[str, Any] | None = Field(None, description="Schema the answer must meet.")
    parse_json: bool = Field(True, description="Parse the final answer as JSON.")
    max_repairs: int = Field(2, ge=0, description="Repair turns for an invalid answer.")
    max_new_tokens: int = Field(256, ge=1, description="Tokens generated per turn at most.")
    generation_batch: int | None = Field(
        None, ge=1, description="Conversations per generate call (None: from free memory)."
    )
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = same_as(PlacementSettings, "dtype")
    placement: dict[str, Any] | None = Field(
        None, description="The planner's decision for this replica (None: whole model on device)."
    )
    dpi: float = same_as(
        RenderOptions, "dpi", default=144.0, description="Resolution of PDF pages shown to a VLM."
    )
    password: str | None = same_as(RenderOptions, "password")


class ExtractStage(Stage):
    """Prompt variables (a record or a dict) -> parsed answer, validity, raw text, turns, tokens."""

    name = "extract"
    Options = ExtractOptions
    options: ExtractOptions
    preferred_batch_size = 64  # per replica; generated in sub-batches sized from free memory
    #: How errors name the answer-length limit: this parameter (``docfleet extract`` names its
    #: ``--max-new-tokens`` flag instead).
    limit_name: ClassVar[str] = "max_new_tokens"

    def load(self, device: Device) -> None:
        from docfleet.llm.generation.loading import load_for_generation

        model, tokenizer = load_for_generation(
            self.options.model, device=device, dtype=self.options.dtype,
            placement=self.options.placement,
        )  # fmt: skip
        self._device = device
        self._vision = hasattr(tokenizer, "image_processor")  # a processor: the model sees
        batch = self.options.generation_batch or auto_batch_size(
            model, free_bytes=free_memory(device), prompt_tokens=2048 if self._vision else 512,
            new_tokens=self.options.max_new_tokens,
        )  # fmt: skip
        generator: Any = BatchGenerator
        if self._vision:
            from docfleet.llm.generation.vision import VisionBatchGenerator

            generator = VisionBatchGenerator
        self._generator = generator(
            model, tokenizer, max_new_tokens=self.options.max_new_tokens, batch_size=batch,
            limit_name=self.limit_name,
        )  # fmt: skip

    def __call__(self, batch: list[Any]) -> list[Any]:
        o = self.options
        turns = Turns(o.turns, system=o.system, json_schema=o.json_schema,
                      parse_json=o.parse_json, max_repairs=o.max_repairs)  # fmt: skip
        start = time.perf_counter()
        images = [self._image(record) for record in batch]  # a bad page fails here
        pairs = zip(batch, images, strict=True)
        chats = [turns.open(getattr(r, "fields", r), image) for r, image in pairs]
        while open_chats := [c for c in chats if not c.done]:
            messages = [c.messages for c in open_chats]
            if self._vision:
                answers = self._generator.generate(messages, [c.image for c in open_chats])
            else:
                answers = self._generator.generate(messages)
            for chat, answer in zip(open_chats, answers, strict=True):
                turns.advance(chat, answer.text, tokens_in=answer.tokens_in,
                              tokens_out=answer.tokens_out)  # fmt: skip
        seconds = (time.perf_counter() - start) / max(1, len(batch))
        return [turns.result(chat, seconds) for chat in chats]

    def _image(self, record: Any) -> Any:
        """The page a record names, for a vision-language model; ``None`` for a text record."""
        task = getattr(record, "page", None)
        if task is None:
            return None
        if not self._vision:
            raise ValueError(
                f"{self.options.model} is a text-only model and cannot read {task.id}; "
                "use a vision-language model (one whose config.json has a vision_config)"
            )
        from docfleet.llm.records.pages import page_image

        return page_image(task, dpi=self.options.dpi, password=self.options.password)

    def close(self) -> None:
        self._generator = None  # type: ignore[assignment]

"""Batched greedy generation with a vision-language model: a page image and a conversation each.

The image goes with the first user message; later turns (follow-ups, repairs) are text and see
it through the conversation. Conversations are grouped by whether they carry an image and by
prompt length, then generated in left-padded sub-batches through the model's own processor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docfleet.llm.generation.generate import (
    LIMIT_NAME,
    Generated,
    Message,
    check_context,
    check_room,
    context_window,
    decode_answers,
    input_device,
)


def is_vision_language(path: str | Path) -> bool:
    """Whether the model in ``path`` takes images: a ``vision_config``, or an image-text type."""
    from docfleet.runtimes.footprint import read_config

    config = read_config(Path(path))
    if "vision_config" in config:
        return True
    try:
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES as NAMES,
        )
    except ImportError:  # older transformers, or none: only the config key tells
        return False
    return config.get("model_type") in NAMES


def multimodal_messages(messages: Sequence[Message], with_image: bool) -> list[dict[str, Any]]:
    """Messages in the content-list form of multimodal chat templates; the image goes first.

    >>> multimodal_messages([{"role": "user", "content": "Total?"}], with_image=True)
    [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'Total?'}]}]
    """
    out: list[dict[str, Any]] = []
    pending = with_image
    for message in messages:
        content: list[dict[str, str]] = [{"type": "text", "text": message["content"]}]
        if pending and message["role"] == "user":
            content.insert(0, {"type": "image"})
            pending = False
        out.append({"role": message["role"], "content": content})
    return out


class VisionBatchGenerator:
    """Generates answers for (conversation, image) pairs with a model and its processor."""

    def __init__(self, model: Any, processor: Any, *, max_new_tokens: int, batch_size: int,
                 limit_name: str = LIMIT_NAME) -> None:  # fmt: skip
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.max_new_tokens = max_new_tokens
        self.limit_name = limit_name
        self.batch_size = max(1, batch_size)
        self.context = context_window(model.config)
        check_room(self.context, max_new_tokens, name=limit_name)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def prompt_text(self, messages: Sequence[Message], with_image: bool) -> str:
        """A conversation as the model's prompt text, image placeholder included."""
        proc = self.processor
        if getattr(proc, "chat_template", None):
            chat = multimodal_messages(messages, with_image)
            return str(proc.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))
        marker = getattr(proc, "image_token", None) or "<image>"
        lines = []
        for i, message in enumerate(messages):
            image = f"{marker}\n" if with_image and i == _first_user(messages) else ""
            lines.append(f"{message['role']}: {image}{message['content']}")
        return "\n\n".join(lines) + "\n\nassistant:"

    def generate(
        self, conversations: Sequence[Sequence[Message]], images: Sequence[Any] | None = None
    ) -> list[Generated]:
        """One answer per conversation, in the order given; ``images[i]`` may be ``None``."""
        pictures = list(images) if images is not None else [None] * len(conversations)
        if len(pictures) != len(conversations):
            raise ValueError(f"{len(pictures)} images for {len(conversations)} conversations")
        texts = [
            self.prompt_text(c, p is not None) for c, p in zip(conversations, pictures, strict=True)
        ]
        lengths = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: (pictures[i] is None, lengths[i]))
        out: list[Generated | None] = [None] * len(texts)
        start = 0
        while start < len(order):
            chunk = order[start : start + self.batch_size]
            with_image = pictures[chunk[0]] is not None
            chunk = [i for i in chunk if (pictures[i] is not None) == with_image]
            batch_images = [[pictures[i]] for i in chunk] if with_image else None
            answers = self._run([texts[i] for i in chunk], batch_images)
            for i, answer in zip(chunk, answers, strict=True):
                out[i] = answer
            start += len(chunk)
        return [g for g in out if g is not None]

    def _run(self, texts: list[str], images: list[list[Any]] | None) -> list[Generated]:
        import torch

        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        device = input_device(self.model)
        dtype = getattr(self.model, "dtype", None)
        moved = {
            key: value.to(device, dtype=dtype if value.is_floating_point() else None)
            for key, value in inputs.items()
            if hasattr(value, "to")
        }
        width = moved["input_ids"].shape[1]
        lengths = moved["attention_mask"].sum(dim=1).tolist()  # image tokens included
        for length in lengths:
            check_context(self.context, int(length), self.max_new_tokens,
                          name=self.limit_name)  # fmt: skip
        with torch.inference_mode():
            output = self.model.generate(
                **moved,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return decode_answers(self.tokenizer, lengths, output[:, width:].tolist())


def _first_user(messages: Sequence[Message]) -> int:
    return next((i for i, m in enumerate(messages) if m["role"] == "user"), 0)

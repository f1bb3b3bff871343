"""Batched greedy generation with a Hugging Face causal LM: left padding, similar lengths together.

One call generates an answer for each of many conversations. Conversations are sorted by
prompt length and cut into sub-batches of at most ``batch_size``, so padding stays small; the
answers come back in the caller's order with their token counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}


class PromptTooLong(ValueError):
    """A conversation and the room for its answer do not fit the model's context window."""


def context_window(config: Any) -> int | None:
    """Tokens a model with this config attends over (prompt and answer), when it says.

    ``max_position_embeddings``, times the RoPE scaling factor where the config scales it
    (YaRN, linear, dynamic) without having raised ``max_position_embeddings`` already.
    """
    cfg = config.get_text_config()
    limit = getattr(cfg, "max_position_embeddings", None)
    if not isinstance(limit, int) or limit <= 0:
        return None
    rope = getattr(cfg, "rope_scaling", None) or getattr(cfg, "rope_parameters", None) or {}
    factor = rope.get("factor") if isinstance(rope, dict) else None
    original = rope.get("original_max_position_embeddings") if isinstance(rope, dict) else None
    kind = rope.get("rope_type", rope.get("type")) if isinstance(rope, dict) else None
    scaled = isinstance(original, int) and original < limit
    if kind not in (None, "default") and isinstance(factor, int | float) and not scaled:
        return int(limit * max(1.0, float(factor)))
    return limit


#: How errors name the answer-length limit by default: ``ExtractStage``'s parameter (the
#: command line names its flag, ``--max-new-tokens``, instead).
LIMIT_NAME = "max_new_tokens"


def _limit(name: str, value: int) -> str:
    """``max_new_tokens=256`` for a parameter, ``--max-new-tokens 256`` for a flag."""
    return f"{name} {value}" if name.startswith("--") else f"{name}={value}"


def check_room(limit: int | None, max_new_tokens: int, *, name: str = LIMIT_NAME) -> None:
    """Raise ``ValueError`` when ``max_new_tokens`` alone leaves no room for any prompt; the
    message calls the limit ``name``."""
    if limit is not None and max_new_tokens >= limit:
        raise ValueError(
            f"{_limit(name, max_new_tokens)} leaves no room for a prompt in the model's "
            f"context of {limit} tokens; lower {name}"
        )


def check_context(
    limit: int | None, prompt_tokens: int, max_new_tokens: int, *, name: str = LIMIT_NAME
) -> None:
    """Raise :class:`PromptTooLong` when the prompt and its answer pass the context window; the
    message calls the answer-length limit ``name``.

    >>> check_context(256, 300, 4)
    Traceback (most recent call last):
    ...
    docfleet.llm.generation.generate.PromptTooLong: the prompt has 300 tokens, and with \
max_new_tokens=4 it passes the model's context of 256 tokens; shorten the text or the prompt, \
or lower max_new_tokens
    """
    if limit is not None and prompt_tokens + max_new_tokens > limit:
        raise PromptTooLong(
            f"the prompt has {prompt_tokens} tokens, and with {_limit(name, max_new_tokens)} "
            f"it passes the model's context of {limit} tokens; shorten the text or the prompt, "
            f"or lower {name}"
        )


@dataclass(frozen=True)
class Generated:
    """One answer and what it cost."""

    text: str
    tokens_in: int
    tokens_out: int


class BatchGenerator:
    """Generates answers for conversations in length-sorted, left-padded batches; errors call
    the answer-length limit ``limit_name``."""

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int, batch_size: int,
                 limit_name: str = LIMIT_NAME) -> None:  # fmt: skip
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.limit_name = limit_name
        self.batch_size = max(1, batch_size)
        self.context = context_window(model.config)
        check_room(self.context, max_new_tokens, name=limit_name)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of a conversation, ending with the cue for the assistant's answer."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):  # a BatchEncoding in newer transformers
                ids = ids["input_ids"]
            return list(ids)
        text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        return list(tok(text)["input_ids"])

    def generate(self, conversations: Sequence[Sequence[Message]]) -> list[Generated]:
        """One answer per conversation, in the order given."""
        encoded = [self.prompt_ids(c) for c in conversations]
        for ids in encoded:  # the engine reruns a failed batch item by item: only this one fails
            check_context(self.context, len(ids), self.max_new_tokens, name=self.limit_name)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out: list[Generated | None] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, answer in zip(chunk, self._run([encoded[i] for i in chunk]), strict=True):
                out[i] = answer
        return [g for g in out if g is not None]

    def _run(self, batch: list[list[int]]) -> list[Generated]:
        import torch

        tok = self.tokenizer
        width = max(len(ids) for ids in batch)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
        device = input_device(self.model)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        return decode_answers(tok, [len(ids) for ids in batch], output[:, width:].tolist())


def decode_answers(
    tokenizer: Any, prompt_lengths: list[int], rows: list[list[int]]
) -> list[Generated]:
    """Generated rows cut at the first end or pad token, decoded, with their token counts."""
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    answers = []
    for length, row in zip(prompt_lengths, rows, strict=True):
        new = row
        for k, token in enumerate(row):
            if token in stops:
                new = row[:k]
                break
        text = tokenizer.decode(new, skip_special_tokens=True)
        answers.append(Generated(text.strip(), length, len(new)))
    return answers


def input_device(model: Any) -> Any:
    """Where inputs go: the embedding's device (the first device of a split model)."""
    try:
        return model.get_input_embeddings().weight.device
    except AttributeError:
        return model.device


def auto_batch_size(
    model: Any, *, free_bytes: int, prompt_tokens: int, new_tokens: int, share: float = 0.5
) -> int:
    """The largest generation batch whose KV cache and logits fit in ``share`` of free memory.

    Per sequence: keys and values of every layer for every token (prompt and answer), plus one
    step's logits. The engine halves the batch again if a real out-of-memory error comes.
    """
    cfg = model.config.get_text_config()  # a vision-language model's language half
    heads = cfg.num_attention_heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    item = next(model.parameters()).element_size()
    per_token = 2 * cfg.num_hidden_layers * kv_heads * head_dim * item
    per_sequence = per_token * (prompt_tokens + new_tokens) + cfg.vocab_size * 4
    return max(1, min(256, int(free_bytes * share) // max(1, per_sequence)))


def free_memory(device: Any) -> int:
    """Free bytes where generation runs: the GPU's (no new context), else the host's."""
    if getattr(device, "kind", "cpu") == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device.index or 0)[0])
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 4 << 30

"""Tiny, randomly initialised language and vision-language models for tests, no download.

The tokenizer is a real word-level tokenizer trained on a fixed English text, JSON punctuation and
digits, with a chat template; the model is a seeded ``LlamaForCausalLM`` of a few megabytes. Both
are written with ``save_pretrained`` (safetensors), so the real loading code reads them back.
"""

from __future__ import annotations

from pathlib import Path

_TEXT = """
The invoice number is 1234 and the total amount is 56.78 dollars paid on 2024-01-31.
Extract the fields from the text below and answer with JSON only.
The patient was seen by the doctor on Monday and the note says the blood pressure is normal.
Bank statement for the account of the customer with a balance of 9000 at the end of the month.
Name, date, amount, currency, vendor, total, tax, items, quantity, price, description, id.
You are a helpful assistant that reads documents and returns valid JSON with the given schema.
system user assistant answer question yes no true false null
{"name": "value", "total": 12, "items": [1, 2, 3], "valid": true, "note": null}
"""

_JSON_PUNCTUATION = list('{}[]":,.-') + [str(d) for d in range(10)]

_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] }} : {{ message['content'] }} {{ eos_token }} "
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)

_SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


def _tokenizer(vocab_words: list[str] | None):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [_SPECIAL[k] for k in ("pad_token", "unk_token", "bos_token", "eos_token")]
    tok = Tokenizer(models.WordLevel(unk_token=_SPECIAL["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    words = [*_TEXT.split("\n"), " ".join(_JSON_PUNCTUATION), " ".join(vocab_words or [])]
    trainer = trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1)
    tok.train_from_iterator(words, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, padding_side="left", **_SPECIAL)
    fast.chat_template = _CHAT_TEMPLATE
    return fast


def tiny_causal_lm(
    path: Path,
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    vocab_words: list[str] | None = None,
    seed: int = 0,
    context: int = 256,
) -> Path:
    """Write a seeded tiny Llama model and its tokenizer to ``path`` and return ``path``.

    ``context`` is its window (``max_position_embeddings``) in tokens.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(vocab_words)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return _save(LlamaForCausalLM, config, tokenizer, path, seed)


def _save(model_class, config, preprocessor, path: Path, seed: int) -> Path:
    """Build ``model_class`` seeded, and save it with its tokenizer or processor to ``path``."""
    import torch

    torch.manual_seed(seed)
    model = model_class(config).eval()
    tokenizer = getattr(preprocessor, "tokenizer", preprocessor)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path, safe_serialization=True)
    preprocessor.save_pretrained(path)
    return path


_VISION_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}{{ message['role'] }} : "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image> {% elif part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %} {{ eos_token }} "
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)


def tiny_vision_lm(path: Path, *, image_size: int = 32, patch: int = 8, seed: int = 0) -> Path:
    """Write a seeded tiny LLaVA (CLIP vision tower, Llama text) and its processor to ``path``.

    The processor resizes every image to ``image_size`` pixels square, so each image becomes
    ``(image_size / patch) ** 2`` image tokens in the prompt.
    """
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(["page", "image", "invoice", "scan"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tokenizer.chat_template = _VISION_CHAT_TEMPLATE
    images = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=images, tokenizer=tokenizer, patch_size=patch,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
        image_token="<image>", chat_template=_VISION_CHAT_TEMPLATE,
    )  # fmt: skip
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        image_size=image_size, patch_size=patch, projection_dim=32,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=vision, text_config=text, vision_feature_select_strategy="default",
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), vision_feature_layer=-1,
    )  # fmt: skip
    return _save(LlavaForConditionalGeneration, config, processor, path, seed)

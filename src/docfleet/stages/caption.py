"""Short captions of page images by an image-to-text model (BLIP, or another the Auto classes
of transformers load), decoded greedily so that a page always gets the same caption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

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

#: What a chat-style model is asked when no ``prompt`` is given.
DEFAULT_INSTRUCTION = "Describe this image in one sentence."


class CaptionOptions(StageOptions):
    model: str = Field(
        description="Folder of an image-to-text model (BLIP: BlipForConditionalGeneration): "
        "config.json, *.safetensors and its processor files."
    )
    max_new_tokens: int = Field(30, ge=1, description="Longest caption, in tokens.")
    batch_size: int = Field(8, ge=1, description="Images per generate call.")
    prompt: str | None = Field(
        None,
        description="BLIP: the caption's first words (e.g. 'a photography of'), kept in the "
        "caption. Other models: the instruction (default: describe the image in a sentence).",
    )
    dtype: DtypeChoice = Field("auto", description="auto: float16 on CUDA GPUs, else float32.")


class CaptionStage(Stage):
    """Sets ``page.caption`` to a caption of the page image (``""`` when it has none).

    Pages are :class:`~docfleet.page.types.RenderedPage` objects (anything with an ``image``, an RGB
    ``H x W x 3`` uint8 array); ``caption`` is set as a plain attribute of the page, which is
    returned. Decoding is greedy: a page gets the same caption alone or in any batch.

    >>> stage = CaptionStage(model="models/blip-image-captioning-base")
    >>> stage.load(Device("cpu"))  # doctest: +SKIP
    >>> [page] = stage([page])  # doctest: +SKIP
    >>> page.caption  # doctest: +SKIP
    'a bar chart of sales by month'
    """

    name = "caption"
    role = "page"
    Options = CaptionOptions
    options: CaptionOptions
    preferred_batch_size = 8

    def load(self, device: Device) -> None:
        folder = Path(self.options.model)
        model_class = caption_model_class(folder, model_config(folder, "caption"))
        self._model, self._processor, self._device = load_model(
            model_class, folder, "caption", self.options.dtype, device
        )
        self._blip = self._model.config.model_type == "blip"
        tokenizer = getattr(self._processor, "tokenizer", None)
        if tokenizer is not None and not self._blip:
            tokenizer.padding_side = "left"  # decoder-only models continue the prompt's end
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token

    def __call__(self, batch: list[Any]) -> list[Any]:
        pages = [page for page in batch if getattr(page, "image", None) is not None]
        for page in batch:
            if getattr(page, "image", None) is None:
                page.caption = ""
        in_chunks(pages, self.options.batch_size, "caption", self._caption_chunk)
        return batch

    def _caption_chunk(self, chunk: list[Any]) -> None:
        captions = self._captions([rgb_image(page.image) for page in chunk])
        for page, caption in zip(chunk, captions, strict=True):
            page.caption = caption

    def close(self) -> None:
        for key in ("_model", "_processor"):
            self.__dict__.pop(key, None)

    def _captions(self, images: list[Any]) -> list[str]:
        import torch

        inputs = self._processor(
            images=images, text=self._texts(len(images)), return_tensors="pt", padding=True
        )
        inputs = {
            key: _to(value, self._device, self._model.dtype if key == "pixel_values" else None)
            for key, value in inputs.items()
            if key != "token_type_ids"  # BERT-style tokenizers add it; BLIP's generate refuses it
        }
        with torch.inference_mode():
            out = self._model.generate(
                **inputs, max_new_tokens=self.options.max_new_tokens, do_sample=False, num_beams=1
            )
        prompt = inputs.get("input_ids")
        if not self._blip and prompt is not None and not self._model.config.is_encoder_decoder:
            out = out[:, prompt.shape[1] :]  # a decoder-only model repeats its prompt first
        texts = self._processor.batch_decode(out, skip_special_tokens=True)
        return [" ".join(text.split()) for text in texts]

    def _texts(self, n: int) -> list[str] | None:
        """The text inputs of ``n`` images: BLIP's prefix, or a chat model's prompt."""
        prompt = self.options.prompt
        if self._blip:
            return [prompt] * n if prompt else None
        if getattr(self._processor, "chat_template", None):
            content = [{"type": "image"}, {"type": "text", "text": prompt or DEFAULT_INSTRUCTION}]
            chat = [{"role": "user", "content": content}]
            text = self._processor.apply_chat_template(
                chat, add_generation_prompt=True, tokenize=False
            )
            return [str(text)] * n
        return [prompt] * n if prompt else None


def _to(value: Any, device: Any, dtype: Any) -> Any:
    """A processor output on the replica's device (images in the model's dtype)."""
    if not hasattr(value, "to"):
        return value
    return value.to(device, dtype=dtype) if dtype is not None else value.to(device)


def caption_model_class(folder: Path, config: dict[str, Any]) -> Any:
    """The transformers class that captions with the model ``config`` describes: BLIP's own,
    else the Auto class whose mapping has its ``model_type``; else an error naming the type."""
    import transformers
    from transformers.models.auto import modeling_auto

    model_type = config.get("model_type")
    if model_type == "blip":
        return transformers.BlipForConditionalGeneration
    for auto, mapping in (
        ("AutoModelForImageTextToText", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"),
        ("AutoModelForVision2Seq", "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES"),  # transformers 4
    ):
        if model_type in getattr(modeling_auto, mapping, {}) and hasattr(transformers, auto):
            return getattr(transformers, auto)
    raise ModelFilesError(
        f"caption stage: {folder}/config.json describes a {model_type or 'untyped'} model, "
        "which does not write text from images; give the folder of a BLIP captioning model "
        "(model_type blip) or another image-to-text model"
    )

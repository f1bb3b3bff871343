"""What the Hugging Face image stages (``clip``, ``caption``) share: checking a model folder,
the torch device and dtype of a replica, and page pixels as PIL images."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from docfleet.engine.devices import Device
from docfleet.runtimes.footprint import ModelFilesError, read_config, safetensors_files

DtypeChoice = Literal["auto", "float32", "float16", "bfloat16"]


def model_config(folder: str | Path, stage: str) -> dict[str, Any]:
    """``config.json`` of the model in ``folder`` once its weights are known to be there.

    Raises :class:`ModelFilesError` naming the folder and the missing file, and the stage.
    """
    folder = Path(folder)
    try:
        config = read_config(folder)
        safetensors_files(folder)
    except ModelFilesError as exc:
        raise ModelFilesError(f"{stage} stage: {exc}") from None
    return config


def load_processor(folder: Path, stage: str) -> Any:
    """The model's processor (tokenizer and image processor), or an error naming what is off."""
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelFilesError(
            f"{stage} stage: cannot load the processor of {folder} (its tokenizer and "
            f"image processor files, as processor.save_pretrained writes them): {exc}"
        ) from exc


def torch_device(device: Device) -> Any:
    """The torch device of a replica on ``device`` (``cuda:0`` inside a process worker)."""
    import torch

    if device.kind == "cuda":
        return torch.device(f"cuda:{device.index or 0}")
    return torch.device(device.kind)


def torch_dtype(choice: str, device: Device) -> Any:
    """The torch dtype ``choice`` names; ``auto`` is float16 on CUDA GPUs, float32 elsewhere."""
    import torch

    if choice == "auto":
        return torch.float16 if device.kind == "cuda" else torch.float32
    return getattr(torch, choice)


def rgb_image(pixels: Any) -> Any:
    """A page's pixels (an ``H x W x 3`` uint8 array, or any array or image PIL reads) as an RGB
    PIL image. Processors guess the channel axis of arrays, which fails on tiny images."""
    from PIL import Image

    if isinstance(pixels, Image.Image):
        return pixels.convert("RGB")
    import numpy as np

    return Image.fromarray(np.ascontiguousarray(pixels)).convert("RGB")


def quiet_loading() -> None:
    """No per-worker loading bars: they would interleave with the run's own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_model(model_class: Any, folder: str | Path, stage: str, dtype: str, device: Device
               ) -> tuple[Any, Any, Any]:  # fmt: skip
    """``(model, processor, torch device)``: the model in ``folder`` on the replica's device in
    evaluation mode, and its processor."""
    quiet_loading()
    where = torch_device(device)
    model = model_class.from_pretrained(
        folder, local_files_only=True, dtype=torch_dtype(dtype, device)
    )
    return model.to(where).eval(), load_processor(Path(folder), stage), where


def in_chunks(pages: list[Any], size: int, stage: str, work: Callable[[list[Any]], None]) -> None:
    """``work`` on ``pages`` ``size`` at a time; each page's ``seconds[stage]`` gets its share
    of the time (the pages of a chunk go through the model together)."""
    if not pages:
        return
    start = time.perf_counter()
    for first in range(0, len(pages), size):
        work(pages[first : first + size])
    share = (time.perf_counter() - start) / len(pages)
    for page in pages:
        seconds = getattr(page, "seconds", None)
        if isinstance(seconds, dict):
            seconds[stage] = share

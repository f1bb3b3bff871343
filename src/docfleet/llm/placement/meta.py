"""The model a folder's ``config.json`` describes, built on the meta device: shapes, no memory.

The planner measures it block by block for close calls and splits; for a folder that holds
only ``config.json`` (weights still to be downloaded), :func:`config_footprint` counts its
parameters, so ``docfleet plan`` can answer before the download.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docfleet.runtimes.footprint import (
    Footprint,
    ModelFilesError,
    declared_dtype,
    described,
    model_footprint,
    read_config,
)

#: safetensors' names of the float dtypes a checkpoint is written in, and their bytes.
_STORED = {"float32": ("F32", 4), "float16": ("F16", 2), "bfloat16": ("BF16", 2)}


@contextmanager
def quiet() -> Iterator[None]:
    """Accelerate logs 'Device N is not available' for pretend GPUs; that is the point here."""
    logger = logging.getLogger("accelerate")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def meta_model(path: Path, dtype: str) -> Any:
    """The model built from its config on the meta device, in ``dtype``: shapes, no memory."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    try:
        from transformers import AutoModelForImageTextToText
    except ImportError:  # older transformers
        AutoModelForImageTextToText = AutoModel
    with quiet():
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    errors = []
    for auto in (AutoModelForCausalLM, AutoModelForImageTextToText, AutoModel):
        try:
            with quiet(), init_empty_weights():
                model = auto.from_config(config, dtype=getattr(torch, dtype))
        except ValueError as exc:  # this auto class does not know the config
            errors.append(str(exc).splitlines()[0])
            continue
        model.tie_weights()
        return model
    raise ValueError(f"transformers cannot build {path}: {'; '.join(errors)}")


def footprint_for_plan(path: str | Path) -> Footprint:
    """The checkpoint's footprint from its safetensors headers; for a folder with
    ``config.json`` and no weights, the one :func:`config_footprint` estimates."""
    try:
        return model_footprint(path)
    except ModelFilesError:
        read_config(Path(path))  # no folder, or no config.json: nothing to plan from
        return config_footprint(path)


def config_footprint(path: str | Path) -> Footprint:
    """Parameters and bytes of the model ``config.json`` describes, in the dtype it declares
    (float32 if none), counted on the meta device. ``files`` is empty: no checkpoint was read.
    """
    folder = Path(path)
    config = read_config(folder)
    declared = declared_dtype(config)
    name = str(declared).removeprefix("torch.") if declared else "float32"
    stored, size = _STORED.get(name, _STORED["float32"])
    model = meta_model(folder, name if name in _STORED else "float32")
    parameters = sum(p.numel() for p in model.parameters())  # tied weights once
    return described(folder, config, (), {stored: (parameters, parameters * size)})

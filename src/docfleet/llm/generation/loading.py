"""Load a planned language model and its tokenizer in one worker, ready for batched generation.

A worker loads the replica the plan gave it, seen from where the worker runs. A process worker
for ``cuda:N`` is started with ``CUDA_VISIBLE_DEVICES`` naming that GPU alone, so inside it the
GPU is ``cuda:0``; a thread worker sees every GPU under its own name. Hence a replica that uses
one GPU is moved onto the worker's device (``cuda:3`` loads on ``cuda:0`` in a process worker),
while a replica spanning several GPUs keeps their names and must run where all of them are
visible: a thread worker, or the parent process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docfleet.engine.devices import CPU, Device
from docfleet.llm.placement.plan import Plan
from docfleet.runtimes.footprint import read_config, resolve_dtype_name, safetensors_files

OFFLOAD_PREFIX = "docfleet-offload-"


def load_for_generation(
    path: str | Path,
    plan: Plan | Mapping[str, Any] | None = None,
    replica: int | None = None,
    device: Device | str = CPU,
    *,
    dtype: str | None = None,
    placement: Plan | Mapping[str, Any] | None = None,
    offload_root: str | Path | None = None,
) -> tuple[Any, Any]:
    """The model (in eval mode) and its tokenizer (left padding, a pad token) for generation.

    A vision-language model (see :func:`~docfleet.llm.generation.vision.is_vision_language`) comes
    with its processor instead of the tokenizer; the processor's tokenizer is set up the same way.

    ``plan`` (or ``placement``, the same as :meth:`Plan.to_dict` gives it) decides the dtype and
    the device map of replica ``replica``; by default the replica placed on ``device``, else
    the first. Without a plan the whole model goes on ``device`` in ``dtype`` (``auto``: float32
    on CPU, the checkpoint's dtype elsewhere). Weights planned for ``disk`` are read from the
    checkpoint or from a temporary offload folder under ``offload_root`` (default: the system
    temporary directory), removed when the model is freed or the process exits.
    """
    from transformers.utils import logging as hf_logging

    from docfleet.llm.generation.vision import is_vision_language

    hf_logging.disable_progress_bar()  # per-worker loading bars would interleave with ours

    folder = Path(path)
    read_config(folder)
    safetensors_files(folder)
    device = Device.parse(device) if isinstance(device, str) else device
    chosen = plan if plan is not None else placement
    if isinstance(chosen, Mapping):
        chosen = Plan.from_dict(chosen)
    device_map, wanted = _placement(chosen, replica, device, dtype)
    _check_visible(device_map)
    offload = _offload_folder(offload_root) if "disk" in device_map.values() else None
    vision = is_vision_language(folder)
    model = _load_model(folder, vision, wanted, device_map, offload)
    model.eval()
    processor, tokenizer = _load_tokenizer(folder, vision)
    _set_padding(model, tokenizer)
    return model, processor if processor is not None else tokenizer


def _placement(
    plan: Plan | None, replica: int | None, device: Device, dtype: str | None
) -> tuple[dict[str, str], str]:
    """The device map the worker on ``device`` loads with, and the dtype name to load in."""
    if plan is None:
        wanted = dtype or "auto"
        if wanted == "auto":
            wanted = "float32" if device.kind == "cpu" else "auto"
        return {"": str(device)}, wanted
    index = pick_replica(plan, replica, device)
    return worker_device_map(plan.replicas[index], device), plan.dtype


def _load_model(
    folder: Path, vision: bool, wanted: str, device_map: dict[str, str], offload: str | None
) -> Any:
    """The model's weights as ``device_map`` places them; ``offload`` (weights planned for
    ``disk``) is removed with the model, or at once if loading fails."""
    import torch
    from transformers import AutoModelForCausalLM

    auto_model: Any = AutoModelForCausalLM
    if vision:
        from transformers import AutoModelForImageTextToText

        auto_model = AutoModelForImageTextToText
    try:
        model = auto_model.from_pretrained(
            folder,
            dtype="auto" if wanted == "auto" else getattr(torch, resolve_dtype_name(wanted)),
            device_map=_for_transformers(device_map),
            offload_folder=offload,
            low_cpu_mem_usage=True,
            local_files_only=True,
        )
    except BaseException:
        if offload is not None:
            _remove(offload, os.getpid())
        raise
    if offload is not None:
        weakref.finalize(model, _remove, offload, os.getpid())
    return model


def _load_tokenizer(folder: Path, vision: bool) -> tuple[Any, Any]:
    """The processor (None but for a vision-language model) and the tokenizer."""
    from transformers import AutoTokenizer

    if vision:
        from transformers import AutoProcessor

        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
        return processor, processor.tokenizer
    return None, AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _set_padding(model: Any, tokenizer: Any) -> None:
    """Left padding, with a pad token (the end-of-text one where the tokenizer has none)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    generation = getattr(model, "generation_config", None)
    if generation is not None and generation.pad_token_id is None:
        generation.pad_token_id = tokenizer.pad_token_id


def pick_replica(plan: Plan, replica: int | None, device: Device) -> int:
    """``replica`` when given (checked), else the replica whose execution device is ``device``."""
    if replica is not None:
        if not 0 <= replica < len(plan.replicas):
            raise ValueError(
                f"replica {replica} does not exist; the {plan.strategy} plan has "
                f"{len(plan.replicas)} (0..{len(plan.replicas) - 1})"
            )
        return replica
    devices = plan.devices
    return devices.index(str(device)) if str(device) in devices else 0


def worker_device_map(device_map: Mapping[str, str], device: Device) -> dict[str, str]:
    """A replica's device map as the worker on ``device`` must load it.

    A replica on one GPU moves to the worker's GPU; several GPUs, ``cpu`` and ``disk`` stay.

    >>> worker_device_map({"": "cuda:3"}, Device.parse("cuda:0"))
    {'': 'cuda:0'}
    >>> worker_device_map({"a": "cuda:1", "b": "cpu", "c": "disk"}, Device.parse("cuda:0"))
    {'a': 'cuda:0', 'b': 'cpu', 'c': 'disk'}
    >>> worker_device_map({"a": "cuda:0", "b": "cuda:1"}, Device.parse("cuda:0"))
    {'a': 'cuda:0', 'b': 'cuda:1'}
    """
    gpus = {d for d in device_map.values() if d.startswith("cuda")}
    if len(gpus) == 1 and device.kind == "cuda":
        return {m: str(device) if d in gpus else d for m, d in device_map.items()}
    return dict(device_map)


def _for_transformers(device_map: Mapping[str, str]) -> dict[str, int | str]:
    """GPU names as the integer indices Accelerate's dispatch takes; other names unchanged."""
    return {m: int(d.split(":")[1]) if d.startswith("cuda:") else d for m, d in device_map.items()}


def _check_visible(device_map: Mapping[str, str]) -> None:
    indices = sorted({int(d.split(":")[1]) for d in device_map.values() if d.startswith("cuda:")})
    if not indices:
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if indices[-1] >= count:
        shown = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        raise RuntimeError(
            f"the plan places weights on {', '.join(f'cuda:{i}' for i in indices)} but this "
            f"process sees {count} GPU(s) (CUDA_VISIBLE_DEVICES={shown}); run a replica that "
            "spans several GPUs in a thread worker, or plan for the GPUs this process sees"
        )


def _offload_folder(root: str | Path | None) -> str:
    """A fresh temporary folder for offloaded weights, removed when this process exits."""
    folder = tempfile.mkdtemp(prefix=OFFLOAD_PREFIX, dir=root)
    atexit.register(_remove, folder, os.getpid())
    return folder


def _remove(folder: str, owner: int) -> None:
    """Remove ``folder``, unless this is a forked child of the process that made it."""
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)

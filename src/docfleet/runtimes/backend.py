"""The runtime a model stage runs its networks on: ONNX Runtime, or the same networks in
PyTorch (:mod:`docfleet.runtimes.torchnets`), and the precision of the latter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import StageOptions

if TYPE_CHECKING:
    from docfleet.runtimes.ocr.models import Backend


class BackendOptions(StageOptions):
    """Options of a stage that runs ONNX models on either backend (layout, OCR, tables)."""

    backend: Literal["auto", "onnxruntime", "torch"] = Field(
        "auto",
        description="Runtime of the layout, OCR and table models: onnxruntime, or torch (the same "
        "networks in PyTorch, pages batched); auto: torch on CUDA GPUs, onnxruntime on CPUs.",
    )
    dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="Precision of the torch backend's networks (GPUs: try float16)."
    )


def stage_backend(name: str, options: BackendOptions, device: Device) -> Backend:
    """The backend stage ``name`` runs on ``device``; a precision ONNX Runtime cannot give is
    refused with the fix."""
    from docfleet.runtimes.ocr.models import resolve_backend

    backend = resolve_backend(options.backend, device)
    if backend == "onnxruntime" and options.dtype != "float32":
        raise ValueError(f"{name}.dtype {options.dtype} needs the torch backend; add --backend "
                         f"torch (or {name}.backend=torch)")  # fmt: skip
    return backend

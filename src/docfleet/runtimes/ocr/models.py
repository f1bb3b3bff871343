"""The PP-OCR model files of each tier, and ONNX Runtime sessions for a replica's device.

``small`` is the PP-OCRv6 small detector and recogniser that ship in ``rapidocr``; ``tiny`` the
PP-OCRv6 tiny pair that ships in this package (``docfleet/runtimes/weights/ppocrv6_tiny``,
Apache-2.0). The small recogniser also comes quantised to INT8 for CPUs
(``docfleet/runtimes/weights/ppocrv6_small_int8``, built by ``benchmarks/quantize_ocr.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from docfleet.engine.devices import Device

Tier = Literal["tiny", "small"]
Backend = Literal["onnxruntime", "torch"]
BackendChoice = Literal["auto", "onnxruntime", "torch"]
TINY_DIR = Path(__file__).resolve().parent.parent / "weights" / "ppocrv6_tiny"
SMALL_INT8 = Path(__file__).resolve().parent.parent / "weights" / "ppocrv6_small_int8" / "rec.onnx"

#: ONNX Runtime's CUDA provider, tuned for pages of many sizes: EXHAUSTIVE (its default) benchmarks
#: every convolution algorithm again for each new input shape, which made RapidOCR several times
#: slower on pages of varying sizes; HEURISTIC picks one at once.
CUDA_PROVIDER_OPTIONS = {
    "cudnn_conv_algo_search": "HEURISTIC",
    "arena_extend_strategy": "kSameAsRequested",
    "do_copy_in_default_stream": True,
}

#: CUDA memory the OCR sessions of one replica may hold together (3/4 of the 2 GiB a replica
#: is given per GPU by ``--replicas auto``; layout takes the rest).
OCR_GPU_ARENA_BYTES = 1536 << 20


@dataclass(frozen=True)
class ModelFiles:
    """One tier's detector and recogniser; ``characters`` is ``None`` where the recogniser's
    ONNX metadata holds its own character list."""

    detector: Path
    recogniser: Path
    characters: Path | None


def model_files(tier: Tier, *, int8: bool = False) -> ModelFiles:
    """Where the tier's files are (with ``int8``, the small recogniser quantised to INT8, for
    ONNX Runtime on CPUs); a missing one is named with the package that brings it."""
    if int8 and tier != "small":
        raise ValueError("only the small recogniser comes in INT8")
    if tier == "tiny":
        files = ModelFiles(TINY_DIR / "det.onnx", TINY_DIR / "rec.onnx", TINY_DIR / "dict.txt")
        fix = "reinstall docfleet (its wheel carries the tiny models)"
    elif tier == "small":
        import rapidocr

        root = Path(rapidocr.__file__).resolve().parent / "models"
        rec = SMALL_INT8 if int8 else root / "PP-OCRv6_rec_small.onnx"
        files = ModelFiles(root / "PP-OCRv6_det_small.onnx", rec, None)
        fix = "pip install 'rapidocr>=3.9,<3.10' (it ships the PP-OCRv6 small models)"
        if int8 and not rec.is_file():
            fix = "reinstall docfleet (its wheel carries the INT8 small recogniser)"
    else:
        raise ValueError(f"unknown OCR model tier {tier!r}; use tiny or small")
    for path in (files.detector, files.recogniser, files.characters):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"OCR model file {path} is missing; {fix}")
    return files


def ort_session(path: Path, device: Device, *, gpu_mem_limit: int | None = None) -> Any:
    """An ONNX Runtime session for ``path`` on ``device``: the CUDA provider on that GPU (with
    :data:`CUDA_PROVIDER_OPTIONS`, and ``gpu_mem_limit`` bytes for its memory arena), else the
    CPU with the replica's thread share."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = True  # reuses buffers between pages (measured 10% faster)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if device.threads:
        options.intra_op_num_threads = device.threads
    providers: list[Any] = ["CPUExecutionProvider"]
    if device.kind == "cuda":
        from docfleet.runtimes.onnx import require_cuda_provider

        require_cuda_provider(device)
        cuda = {**CUDA_PROVIDER_OPTIONS, "device_id": device.index or 0}
        if gpu_mem_limit:
            cuda["gpu_mem_limit"] = gpu_mem_limit
        providers = [("CUDAExecutionProvider", cuda), "CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def resolve_backend(choice: str, device: Device, torch_cuda: bool | None = None) -> Backend:
    """The runtime ``auto`` means on ``device``: on CUDA GPUs PyTorch (it batches pages, keeps
    recognition's tables on the GPU and needs no ``onnxruntime-gpu``) when ``torch_cuda``, a
    CUDA build of torch with ``onnx`` to read the models (found out when not given), else ONNX
    Runtime; on CPUs ONNX Runtime (faster there, measured in ``benchmarks/torch_parity.py``).

    >>> cuda = Device.parse("cuda:0")
    >>> resolve_backend("auto", cuda, True), resolve_backend("auto", cuda, False)
    ('torch', 'onnxruntime')
    """
    if choice == "auto":
        if device.kind != "cuda":
            return "onnxruntime"
        ready = torch_backend_ready() if torch_cuda is None else torch_cuda
        return "torch" if ready else "onnxruntime"
    if choice not in ("onnxruntime", "torch"):
        raise ValueError(f"unknown backend {choice!r}; use auto, onnxruntime or torch")
    return choice  # type: ignore[return-value]


def torch_backend_ready() -> bool:
    """Whether the torch backend can run on CUDA here: torch with CUDA, and onnx installed."""
    import importlib.util

    if not (importlib.util.find_spec("torch") and importlib.util.find_spec("onnx")):
        return False
    import torch

    return bool(torch.cuda.is_available())


def model_session(
    path: Path,
    device: Device,
    backend: Backend = "onnxruntime",
    *,
    gpu_mem_limit: int | None = None,
    dtype: str = "float32",
) -> Any:
    """A session for ``path`` with ONNX Runtime's interface: :func:`ort_session`, or the same
    network in PyTorch (:func:`docfleet.runtimes.torchnets.torch_session`) on ``device`` with the
    replica's thread share on CPUs."""
    if backend == "onnxruntime":
        return ort_session(path, device, gpu_mem_limit=gpu_mem_limit)
    from docfleet.runtimes.torchnets import torch_session
    from docfleet.runtimes.torchnets.runtime import import_torch

    if device.kind == "cpu" and device.threads:
        import_torch().set_num_threads(device.threads)
    return torch_session(path, str(device), dtype)


def characters_of(session: Any, files: ModelFiles) -> list[str]:
    """The recogniser's characters with CTC's blank first and a space last, as PaddleOCR has
    them: from the model's metadata, else from the tier's dictionary file."""
    meta = session.get_modelmeta().custom_metadata_map
    if "character" in meta:
        chars = meta["character"].splitlines()
    elif files.characters is not None:
        text = files.characters.read_text(encoding="utf-8")
        chars = [line.rstrip("\r") for line in text.split("\n")]
        if chars and chars[-1] == "":
            chars.pop()  # the file's final newline
    else:
        raise ValueError(f"{files.recogniser} holds no character list and none was given")
    return ["blank", *chars, " "]

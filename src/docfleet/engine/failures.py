"""Recognising out-of-memory errors from PyTorch, ONNX Runtime, NumPy and the allocator."""

from __future__ import annotations

import sys

# Message fragments of allocation failures across the runtimes docfleet drives.
_OOM_MARKERS = (
    "out of memory",  # torch.cuda.OutOfMemoryError, CUDA, HIP, MPS
    "can't allocate memory",  # torch's DefaultCPUAllocator
    "failed to allocate memory",  # ONNX Runtime (CPU and CUDA arenas)
    "bad allocation",  # std::bad_alloc surfaced by ONNX Runtime
    "std::bad_alloc",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "cudaerrormemoryallocation",
    "unable to allocate",  # NumPy's _ArrayMemoryError
)


def is_out_of_memory(exc: BaseException) -> bool:
    """True when ``exc`` says an allocation failed, so a smaller batch may succeed."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__name__ in ("OutOfMemoryError", "OutOfMemory"):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _OOM_MARKERS)


def release_cached_memory() -> None:
    """Give cached accelerator memory back after an out-of-memory error (no-op without torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
    except Exception:  # best effort while already handling a failure
        pass

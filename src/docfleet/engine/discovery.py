"""GPU discovery through NVML or ``nvidia-smi``, without initialising CUDA in this process.

``CUDA_VISIBLE_DEVICES`` is applied here the way the CUDA driver applies it, so that ``cuda:N``
below means what it will mean to PyTorch or ONNX Runtime in the same environment:

- unset: every GPU, in NVML (PCI bus) order;
- a comma-separated list of physical indices and/or GPU uuids (``GPU-8a3f...``, or any prefix of
  one that matches a single GPU): those GPUs in that order, renumbered ``0..n-1``;
- an entry that names no GPU (``""``, ``-1``, ``none``, an index past the last GPU, an unknown or
  ambiguous uuid) ends the list: CUDA ignores it and every entry after it, so ``""`` and ``-1``
  hide every GPU and ``0,7`` on a two-GPU machine shows only GPU 0;
- a GPU listed twice makes CUDA show no GPU at all;
- as in CUDA, an index entry is read like ``strtoul``: ``1gpu`` means ``1``;
- ``MIG-...`` entries are passed through by uuid (memory unknown, reported as 0) unless a known
  device has that uuid.

``probe_gpu`` checks that a GPU really allocates, in a child process that sees only that GPU.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

NVIDIA_SMI_QUERY = "--query-gpu=index,name,uuid,memory.total,memory.free"
NVIDIA_SMI_FORMAT = "--format=csv,noheader,nounits"
NVIDIA_SMI_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 60.0
PROBE_BYTES = 1 << 20
_PROBE_CHILD = "import json, docfleet.engine.discovery as d; print(json.dumps(d._probe_here()))"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuInfo:
    """One GPU visible to this process.

    ``index`` is the logical index (``cuda:<index>`` as PyTorch numbers devices under the current
    ``CUDA_VISIBLE_DEVICES``); ``visible_id`` is the value to put in a child's
    ``CUDA_VISIBLE_DEVICES`` so that the child sees exactly this GPU as ``cuda:0``.
    """

    index: int
    visible_id: str
    name: str
    uuid: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class GpuDiscovery:
    """What discovery found: the visible GPUs, which method found them, and why none if none."""

    gpus: tuple[GpuInfo, ...]
    method: str  # "nvml", "nvidia-smi" or "none"
    # Empty when every GPU asked for was found; else why none are visible, or which
    # CUDA_VISIBLE_DEVICES entries CUDA ignores.
    reason: str
    cuda_visible_devices: str | None  # the CUDA_VISIBLE_DEVICES value honoured, None if unset


@dataclass(frozen=True)
class ProbeResult:
    """Whether a tiny allocation on one GPU succeeded in a child process, and if not, why."""

    ok: bool
    backend: str  # "cuda-driver", "torch", or "" when nothing could try
    error: str
    seconds: float


def discover_gpus(environ: Mapping[str, str] | None = None) -> GpuDiscovery:
    """Find the GPUs visible under ``CUDA_VISIBLE_DEVICES`` (from ``environ``, default os.environ).

    NVML is asked first, then ``nvidia-smi``; neither initialises CUDA, so this is safe to call in
    a parent process that later spawns GPU workers.
    """
    env = os.environ if environ is None else environ
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    errors: list[str] = []
    for method, find in (("nvml", _from_nvml), ("nvidia-smi", _from_nvidia_smi)):
        try:
            physical = find()
        except Exception as exc:  # any failure means: try the next method
            errors.append(str(exc))
            continue
        if not physical:
            return GpuDiscovery((), method, f"{method} reports no GPUs", cvd)
        visible, note = filter_visible(physical, cvd)
        return GpuDiscovery(visible, method, note, cvd)
    return GpuDiscovery((), "none", f"no NVIDIA driver found ({'; '.join(errors)})", cvd)


def split_visible_devices(value: str) -> list[str]:
    """Split a ``CUDA_VISIBLE_DEVICES`` value into its stripped entries (empty ones kept).

    >>> split_visible_devices(" 0, GPU-8a3f,")
    ['0', 'GPU-8a3f', '']
    """
    return [entry.strip() for entry in value.split(",")]


def filter_visible(
    gpus: Sequence[GpuInfo], cuda_visible_devices: str | None
) -> tuple[tuple[GpuInfo, ...], str]:
    """Apply ``CUDA_VISIBLE_DEVICES`` to the physical GPUs, as CUDA does; return them and a note.

    ``gpus`` are numbered by physical index. The result is renumbered ``0..n-1`` with
    ``visible_id`` set for a child process; the note says which entries were ignored and why.

    >>> a = GpuInfo(0, "0", "A100", "GPU-aaaa", 80, 80)
    >>> b = GpuInfo(1, "1", "A100", "GPU-bbbb", 80, 80)
    >>> [(g.index, g.visible_id) for g in filter_visible([a, b], "GPU-bb,0")[0]]
    [(0, 'GPU-bbbb'), (1, '0')]
    >>> filter_visible([a, b], "-1")[0]
    ()
    """
    if cuda_visible_devices is None:
        return tuple(replace(g, index=i, visible_id=str(g.index)) for i, g in enumerate(gpus)), ""
    shown = f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r}"
    chosen: list[GpuInfo] = []
    for entry in split_visible_devices(cuda_visible_devices):
        gpu, why = _match(entry, gpus)
        if gpu is None:
            if not chosen:
                return (), f"{shown} hides all {len(gpus)} GPUs: its first entry {entry!r} {why}"
            note = f"{shown}: entry {entry!r} {why}; CUDA ignores it and every entry after it"
            break
        if any(c.uuid == gpu.uuid for c in chosen):
            return (), f"{shown} names GPU {gpu.uuid} twice, and CUDA then shows no GPU at all"
        chosen.append(gpu)
    else:
        note = ""
    return tuple(replace(g, index=i) for i, g in enumerate(chosen)), note


def _match(entry: str, gpus: Sequence[GpuInfo]) -> tuple[GpuInfo | None, str]:
    """The GPU one ``CUDA_VISIBLE_DEVICES`` entry names (with ``visible_id`` set), or why none."""
    if entry.startswith(("GPU-", "MIG-")):
        hits = [g for g in gpus if g.uuid.startswith(entry)]
        if len(hits) == 1:
            return replace(hits[0], visible_id=hits[0].uuid), ""
        if hits:
            return None, f"is a uuid prefix that matches {len(hits)} GPUs"
        if entry.startswith("MIG-"):
            return GpuInfo(-1, entry, "MIG instance", entry, 0, 0), ""
        return None, "matches no GPU uuid"
    digits = re.match(r"\d+", entry)
    if digits is None:
        return None, "is not a GPU index or uuid" if entry else "is empty"
    physical = int(digits.group())
    for gpu in gpus:
        if gpu.index == physical and not gpu.uuid.startswith("MIG-"):
            return replace(gpu, visible_id=str(physical)), ""
    return None, f"is not a GPU index (this machine has {len(gpus)})"


def parse_nvidia_smi_csv(text: str) -> list[GpuInfo]:
    """Parse ``nvidia-smi --query-gpu=index,name,uuid,memory.total,memory.free`` CSV (MiB).

    >>> parse_nvidia_smi_csv("0, NVIDIA H100 80GB HBM3, GPU-5e1c, 81559, 81007\\n")[0].total_bytes
    85520809984
    """
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5 or not fields[0].isdigit():
            raise ValueError(f"unexpected nvidia-smi output line {line!r}")
        index, uuid, total, free = int(fields[0]), fields[-3], fields[-2], fields[-1]
        name = ", ".join(fields[1:-3])  # a name with a comma in it stays whole
        gpus.append(GpuInfo(index, str(index), name, uuid, _mib(total), _mib(free)))
    return sorted(gpus, key=lambda g: g.index)


def _mib(text: str) -> int:
    """MiB as bytes; ``[N/A]`` and other non-numbers read as 0 (unknown)."""
    try:
        return int(float(text) * _MIB)
    except ValueError:
        return 0


def _from_nvml() -> list[GpuInfo]:
    """Physical GPUs as NVML lists them; raises when NVML cannot be loaded or initialised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the old ``pynvml`` wrapper warns on import
            import pynvml
    except ImportError as exc:
        raise RuntimeError(f"NVML unavailable: nvidia-ml-py is not installed ({exc})") from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise RuntimeError(f"NVML unavailable: {exc}") from exc
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = _text(pynvml.nvmlDeviceGetName(handle))
            uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
            gpus.append(GpuInfo(i, str(i), name, uuid, int(memory.total), int(memory.free)))
        return gpus
    except pynvml.NVMLError as exc:
        raise RuntimeError(f"NVML failed: {exc}") from exc
    finally:
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _from_nvidia_smi() -> list[GpuInfo]:
    """Physical GPUs as ``nvidia-smi`` lists them; raises when it is missing or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        raise RuntimeError("nvidia-smi not on PATH")
    try:
        proc = subprocess.run(
            [exe, NVIDIA_SMI_QUERY, NVIDIA_SMI_FORMAT],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"nvidia-smi did not answer within {NVIDIA_SMI_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise RuntimeError(f"nvidia-smi could not run: {exc}") from exc
    if proc.returncode != 0:
        said = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        raise RuntimeError(f"nvidia-smi failed: {said[0] if said else f'exit {proc.returncode}'}")
    return parse_nvidia_smi_csv(proc.stdout)


def probe_gpu(
    visible_id: str, *, environ: Mapping[str, str] | None = None, timeout: float = PROBE_TIMEOUT_S
) -> ProbeResult:
    """Allocate a little memory on one GPU in a child process, so CUDA never starts in this one."""
    env = dict(os.environ if environ is None else environ)
    env["CUDA_VISIBLE_DEVICES"] = visible_id
    start = time.perf_counter()
    try:
        cmd = [sys.executable, "-c", _PROBE_CHILD]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        error = f"no answer within {timeout:g} s; the GPU or its driver may be hung"
        return ProbeResult(False, "", error, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
        return ProbeResult(bool(answer["ok"]), answer["backend"], answer["error"], seconds)
    except (IndexError, ValueError, KeyError, TypeError):
        said = (proc.stderr.strip() or proc.stdout.strip())[-500:]
        return ProbeResult(False, "", f"the probe exited {proc.returncode}: {said}", seconds)


def _probe_here() -> dict[str, Any]:
    """Allocate on cuda:0 of THIS process; only ever run in the child that probe_gpu starts."""
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        return _probe_with_torch(f"cannot load {name}: {exc}")
    cu_ctx, ptr, dev = ctypes.c_void_p(), ctypes.c_uint64(), ctypes.c_int()

    def check(rc: int, call: str) -> None:
        if rc != 0:
            text = ctypes.c_char_p()
            lib.cuGetErrorString(rc, ctypes.byref(text))
            raise RuntimeError(f"{call} failed: CUDA error {rc} {(text.value or b'').decode()}")

    try:
        check(lib.cuInit(0), "cuInit")
        check(lib.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
        check(lib.cuCtxCreate_v2(ctypes.byref(cu_ctx), 0, dev), "cuCtxCreate")
        try:
            check(lib.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(PROBE_BYTES)), "cuMemAlloc")
            check(lib.cuMemFree_v2(ptr), "cuMemFree")
        finally:
            lib.cuCtxDestroy_v2(cu_ctx)
    except (RuntimeError, AttributeError) as exc:  # AttributeError: a symbol is missing
        return {"ok": False, "backend": "cuda-driver", "error": str(exc)}
    return {"ok": True, "backend": "cuda-driver", "error": ""}


def _probe_with_torch(why: str) -> dict[str, Any]:
    if importlib.util.find_spec("torch") is None:
        return {"ok": False, "backend": "", "error": f"{why}; torch is not installed either"}
    try:
        import torch

        x = torch.empty(PROBE_BYTES // 4, dtype=torch.float32, device="cuda:0").fill_(1.0)
        torch.cuda.synchronize()
        del x
    except Exception as exc:  # AssertionError on CPU builds, RuntimeError / OOM on GPU ones
        return {"ok": False, "backend": "torch", "error": f"{why}; torch: {exc}"}
    return {"ok": True, "backend": "torch", "error": ""}

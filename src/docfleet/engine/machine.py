"""Facts about this machine that decide what can run here: installed packages, ONNX Runtime's
providers, OpenCV's wheels, torch's build, CPU cores and memory (container limits included).

Nothing here initialises CUDA; each fact is read the cheapest way that is still true.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import warnings
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from docfleet.engine.devices import available_cores

PACKAGES = (
    "docfleet",
    "numpy",
    "pydantic",
    "nvidia-ml-py",
    "onnxruntime",
    "onnxruntime-gpu",
    "torch",
    "transformers",
    "accelerate",
    "pypdfium2",
    "rapidocr",
    "rapid-layout",
    "ray",
    "fastapi",
    "opencv-python",
    "opencv-python-headless",
    "onnx",
)
# fmt: on
NOT_INSTALLED = "not installed"
OPENCV_WHEELS = ("opencv-python", "opencv-python-headless")  # both install the one cv2 folder


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions from package metadata, without importing the packages."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    return versions


def onnxruntime_facts() -> dict[str, Any]:
    """ONNX Runtime's version and execution providers (listing them does not start CUDA)."""
    ort, error = _import_quietly("onnxruntime")
    if ort is None:
        return {"version": "unknown" if error else NOT_INSTALLED, "providers": [], "error": error}
    providers = list(ort.get_available_providers())
    return {"version": str(ort.__version__), "providers": providers, "error": ""}


def opencv_facts() -> dict[str, Any]:
    """cv2's version (or why it fails to import), and which installed packages require which
    OpenCV wheel, from their metadata (requirements of extras left out)."""
    required_by = {}
    for dist in metadata.distributions():
        for requirement in dist.requires or []:
            name = re.match(r"[A-Za-z0-9._-]+", requirement)
            wheel = re.sub(r"[-_.]+", "-", name.group(0)).lower() if name else ""
            if wheel in OPENCV_WHEELS and not re.search(r"\bextra\s*==", requirement):
                required_by[dist.metadata["Name"]] = wheel
    cv2, error = _import_quietly("cv2")
    version = str(cv2.__version__) if cv2 is not None else "unknown" if error else NOT_INSTALLED
    return {"version": version, "error": error, "required_by": required_by}


def torch_facts() -> dict[str, Any]:
    """torch's version and CUDA build; torch.cuda is never touched, so CUDA does not start."""
    torch, error = _import_quietly("torch")
    if torch is None:
        return {"version": "unknown" if error else NOT_INSTALLED, "cuda": None, "error": error}
    return {"version": str(torch.__version__), "cuda": torch.version.cuda, "error": ""}


def _import_quietly(name: str) -> tuple[Any, str]:
    """The module, or None and why ("" when it is not installed); warnings are not raised."""
    if importlib.util.find_spec(name) is None:
        return None, ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name), ""
    except Exception as exc:  # a broken install must not stop the report
        return None, f"{type(exc).__name__}: {exc}"


def cpu_facts() -> dict[str, int | None]:
    """Logical and usable cores, and memory: total, available and any cgroup limit (bytes)."""
    total, available = meminfo()
    return {
        "logical_cores": os.cpu_count() or 1,
        "usable_cores": available_cores(),
        "memory_total_bytes": total,
        "memory_available_bytes": available,
        "memory_limit_bytes": _cgroup_memory_limit(),
    }


def meminfo() -> tuple[int | None, int | None]:
    """This machine's total and available memory in bytes (``None`` where unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            kib = {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in fh) if v}
        return kib["MemTotal"] * 1024, kib["MemAvailable"] * 1024
    except (OSError, ValueError, KeyError, IndexError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None, None


def _cgroup_memory_limit() -> int | None:
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None

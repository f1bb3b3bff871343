"""Where a benchmark ran: CPU model, its vector features, cores and Python, as data and as a line.

The vector features decide which kernels ONNX Runtime and PyTorch use, so two machines with the
same core count can differ several times over; every script prints this line first.

>>> machine_line({"cpu_model": "AMD EPYC", "cpu_features": ["AVX2", "AVX-512", "VNNI"],
...               "usable_cores": 2, "cpu_count": 4, "python": "3.12.3"})
'machine AMD EPYC with AVX2, AVX-512, VNNI (no AMX); 2 of 4 cores usable; Python 3.12.3'
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from docfleet.engine.devices import available_cores

# name shown -> the /proc/cpuinfo flags that say the CPU has it (any of them). VNNI (AVX-512's
# or AVX's) is what makes INT8 networks faster than float32 ones: without it ONNX Runtime's
# INT8 kernels take three instructions where VNNI takes one, and gain little on float32.
VECTOR_FEATURES = {
    "AVX2": ("avx2",),
    "AVX-512": ("avx512f",),
    "VNNI": ("avx512_vnni", "avx_vnni"),
    "AMX": ("amx_tile",),
}


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str | None, set[str] | None]:
    """The first CPU's model name and flags (None for what the file does not say)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None, None
    model: str | None = None
    flags: set[str] | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and flags is None:  # Features: on ARM
            flags = set(value.split())
    return model, flags


def describe() -> dict[str, Any]:
    """The ``machine`` entry of a benchmark's figures.

    ``cpu_features`` lists those of ``VECTOR_FEATURES`` the CPU has; None where /proc/cpuinfo
    cannot be read (not Linux).
    """
    model, flags = read_cpuinfo()
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "usable_cores": available_cores(),
        "cpu_model": model or platform.processor() or platform.machine() or "unknown CPU",
        "cpu_features": None if flags is None else [
            name for name, names in VECTOR_FEATURES.items() if flags.intersection(names)
        ],
    }  # fmt: skip


def machine_line(machine: dict[str, Any], width: int = 8) -> str:
    """One line: the CPU, which vector features it has and lacks, cores, Python."""
    have = machine.get("cpu_features")
    if have is None:
        vector = "(vector features unknown)"
    else:
        lacks = [name for name in VECTOR_FEATURES if name not in have]
        vector = "with " + ", ".join(have) if have else "with none of " + ", ".join(lacks)
        if have and lacks:
            vector += f" (no {', '.join(lacks)})"
    cores = f"{machine['usable_cores']} of {machine['cpu_count']} cores usable"
    text = f"{machine['cpu_model']} {vector}; {cores}; Python {machine['python']}"
    return f"{'machine':<{width - 1}} {text}"


def print_machine(width: int = 8) -> dict[str, Any]:
    """Print the machine line (its label ``width`` wide, as the script's other labels) and
    return the description for the figures."""
    machine = describe()
    print(machine_line(machine, width), flush=True)
    return machine

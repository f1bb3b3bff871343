"""Readiness report: Python, packages, runtimes, CPU, GPUs (with a real allocation) and problems.

Everything here is safe in a parent process: GPUs are found through NVML or ``nvidia-smi``, and
the allocation probe (``docfleet.engine.discovery.probe_gpu``) runs in a child process that sees
one GPU, so CUDA is never initialised in the process that builds the report.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from docfleet.engine.devices import DeviceError, parse_devices
from docfleet.engine.discovery import (
    PROBE_BYTES,
    GpuDiscovery,
    ProbeResult,
    discover_gpus,
    probe_gpu,
)
from docfleet.engine.machine import (
    NOT_INSTALLED,
    OPENCV_WHEELS,
    cpu_facts,
    onnxruntime_facts,
    opencv_facts,
    package_versions,
    torch_facts,
)

# fmt: off
OPENCV_FIX = (
    'pip uninstall -y opencv-python opencv-python-headless && pip install "rapidocr>=3.9,<3.10" '
    "opencv-python (rapid-layout and rapidocr 3.9 both require opencv-python, so pip check "
    "passes with one cv2; rapidocr 3.10 requires opencv-python-headless instead)"
)
OPENCV_LIBS_FIX = (
    "install the system libraries opencv-python links to: apt-get install -y libgl1 "
    "libglib2.0-0 (Debian, Ubuntu) or dnf install -y mesa-libGL glib2 (Fedora, RHEL)"
)
ORT_FIX = (
    'pip uninstall -y onnxruntime onnxruntime-gpu && pip install "docfleet[gpu]" '
    "(both packages provide the onnxruntime module, so the CPU one must go)"
)
TORCH_BACKEND_FIX = (
    'pip install "docfleet[torch]" with a CUDA build of torch (layout and OCR then run in '
    "PyTorch on the GPUs: --backend torch, the default there)"
)
CVD_FIX = (
    "unset CUDA_VISIBLE_DEVICES, or list the GPUs to use by index or uuid "
    "(nvidia-smi -L shows both), e.g. CUDA_VISIBLE_DEVICES=0,1"
)
PROBE_FIX = (
    "check nvidia-smi for errors and for processes holding that GPU (one in exclusive-process "
    "mode refuses a second process); until it allocates, leave {device} out of --devices"
)
TORCH_FIX = (
    "install a CUDA build of torch, e.g. pip install --force-reinstall torch --index-url "
    "https://download.pytorch.org/whl/cu128 (pick a CUDA version the driver supports; "
    "nvidia-smi shows it, https://pytorch.org/get-started/locally/ lists the builds)"
)


@dataclass(frozen=True)
class Problem:
    """Something that will stop or slow a run, and the concrete step that fixes it."""

    what: str
    fix: str


@dataclass(frozen=True)
class GpuCheck:
    """One visible GPU as discovery found it, plus its allocation probe."""

    index: int
    visible_id: str
    name: str
    uuid: str
    total_bytes: int
    free_bytes: int
    probe: ProbeResult


@dataclass(frozen=True)
class DevicesCheck:
    """Whether the devices asked for with ``--devices`` are usable (``usable`` None: none asked)."""

    requested: str | None
    resolved: list[str]
    usable: bool | None
    error: str


@dataclass(frozen=True)
class DoctorReport:
    """The whole readiness report; ``as_dict()`` is what ``docfleet doctor --json`` prints."""

    docfleet: str
    python: dict[str, str]
    packages: dict[str, str]
    onnxruntime: dict[str, Any]  # version, providers, error
    torch: dict[str, Any]  # version, cuda (the CUDA build, None for CPU builds), error
    opencv: dict[str, Any]  # version (cv2's), error, required_by (package -> the wheel it names)
    cpu: dict[str, int | None]
    discovery: dict[str, str | None]  # method, reason, cuda_visible_devices, cuda_device_order
    gpus: list[GpuCheck]
    devices: DevicesCheck
    problems: list[Problem]
    ray: dict[str, Any] | None = None  # with --ray-address: check_ray's answer

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready plain data (``ray`` only when a cluster was checked)."""
        data = asdict(self)
        if self.ray is None:
            del data["ray"]
        return data

    @property
    def exit_code(self) -> int:
        """1 when the devices asked for are not usable or the Ray cluster is unreachable."""
        unreachable = self.ray is not None and not self.ray["connected"]
        return 1 if self.devices.usable is False or unreachable else 0


def build_report(
    devices: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    ray_address: str | None = None,
) -> DoctorReport:
    """Gather every fact, probe each GPU in a child process, and list the problems found.

    With ``ray_address`` the report also describes that Ray cluster (Ray is imported only then).
    """
    from docfleet import __version__

    env = os.environ if environ is None else environ
    found = discover_gpus(env)
    with ThreadPoolExecutor(max_workers=max(1, len(found.gpus))) as pool:
        probes = list(pool.map(lambda g: probe_gpu(g.visible_id, environ=env), found.gpus))
    gpus = [GpuCheck(**asdict(g), probe=p) for g, p in zip(found.gpus, probes, strict=True)]
    report = DoctorReport(
        docfleet=__version__,
        python={
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
        },
        packages=package_versions(),
        onnxruntime=onnxruntime_facts(),
        torch=torch_facts(),
        opencv=opencv_facts(),
        cpu=cpu_facts(),
        discovery={
            "method": found.method,
            "reason": found.reason,
            "cuda_visible_devices": found.cuda_visible_devices,
            "cuda_device_order": env.get("CUDA_DEVICE_ORDER"),
        },
        gpus=gpus,
        devices=check_devices(devices, found, gpus),
        problems=[],
        ray=None if ray_address is None else check_ray(ray_address),
    )
    return replace(report, problems=diagnose(report))


def check_devices(spec: str | None, found: GpuDiscovery, gpus: Sequence[GpuCheck]) -> DevicesCheck:
    """Resolve ``spec`` against what was found; usable when it parses and every GPU allocates."""
    if spec is None:
        return DevicesCheck(None, [], None, "")
    try:
        resolved = parse_devices(spec, discovery=found)
    except DeviceError as exc:
        return DevicesCheck(spec, [], False, str(exc))
    ok = {g.index for g in gpus if g.probe.ok}
    failed = sorted({str(d) for d in resolved if d.kind == "cuda" and d.index not in ok})
    error = f"the allocation probe failed on {', '.join(failed)}" if failed else ""
    return DevicesCheck(spec, [str(d) for d in resolved], not failed, error)


def check_ray(address: str) -> dict[str, Any]:
    """The Ray cluster at ``address`` (``connected``, ``error``, and ``fix`` when unreachable)."""
    from docfleet.engine.ray_cluster import INSTALL_FIX, ClusterUnreachable, cluster_report

    try:
        return {"connected": True, "error": "", **cluster_report(address)}
    except ImportError as exc:
        return {"address": address, "connected": False, "error": str(exc), "fix": INSTALL_FIX}
    except ClusterUnreachable as exc:
        return {"address": address, "connected": False, "error": exc.reason, "fix": exc.fix}


def diagnose(report: DoctorReport) -> list[Problem]:
    """The problems in a report, each with the step that fixes it."""
    problems: list[Problem] = []
    reason = report.discovery["reason"] or ""
    if report.devices.usable is False:
        what = f"--devices {report.devices.requested} is not usable: {report.devices.error}"
        problems.append(Problem(what, _devices_fix(report)))
    ray = report.ray
    if ray is not None and not ray["connected"]:
        what = f"cannot connect to the Ray cluster at {ray['address']}: {ray['error']}"
        problems.append(Problem(what, ray["fix"]))
    if _hidden_by_cvd(report) or (report.gpus and reason):
        problems.append(Problem(reason, CVD_FIX))
    for gpu in report.gpus:
        where = f"cuda:{gpu.index} ({gpu.name}, CUDA_VISIBLE_DEVICES={gpu.visible_id})"
        if not gpu.probe.ok:
            what = f"allocating {PROBE_BYTES >> 20} MiB on {where} failed: {gpu.probe.error}"
            problems.append(Problem(what, PROBE_FIX.format(device=f"cuda:{gpu.index}")))
        elif gpu.free_bytes < gpu.total_bytes // 10:
            what = f"{where} has only {_gib(gpu.free_bytes)} free of {_gib(gpu.total_bytes)}"
            problems.append(Problem(what, "stop the processes holding it (see nvidia-smi)"))
    problems += _opencv_problems(report)
    return problems + (_runtime_problems(report) if report.gpus else [])


def _opencv_problems(report: DoctorReport) -> list[Problem]:
    """Both OpenCV wheels (one cv2 folder, the last installed wins), a wheel that a package
    requires missing (``pip check`` fails), or a cv2 that does not import."""
    installed = [w for w in OPENCV_WHEELS if report.packages.get(w, NOT_INSTALLED) != NOT_INSTALLED]
    required_by = sorted(report.opencv["required_by"].items())
    problems = []
    if len(installed) > 1:
        what = (
            "opencv-python and opencv-python-headless are both installed: both write the one "
            "cv2 folder, and whichever was installed last wins"
        )
        who = "; ".join(f"{package} requires {wheel}" for package, wheel in required_by)
        problems.append(Problem(f"{what} ({who})" if who else what, OPENCV_FIX))
    missing = [(package, wheel) for package, wheel in required_by if wheel not in installed]
    if missing:
        needs = "; ".join(f"{p} requires {w}, which is not installed" for p, w in missing)
        there = f" ({installed[0]} is)" if installed else ""
        problems.append(Problem(f"{needs}{there}: pip check fails", OPENCV_FIX))
    if error := report.opencv["error"]:
        libs = ".so" in error and "opencv-python" in installed  # the GUI build's system libraries
        fix = OPENCV_LIBS_FIX if libs else OPENCV_FIX
        problems.append(Problem(f"cv2 fails to import: {error}", fix))
    return problems


def gpu_backend(report: DoctorReport) -> str:
    """What ``--backend auto`` runs layout and OCR with on this machine's GPUs."""
    if _torch_backend(report):
        return "torch (a CUDA build, with onnx to read the models)"
    if "CUDAExecutionProvider" in report.onnxruntime["providers"]:
        return "onnxruntime (its CUDA provider)"
    return "none: neither a CUDA build of torch with onnx nor onnxruntime-gpu"


def _torch_backend(report: DoctorReport) -> bool:
    """Whether ``--backend torch`` can run layout and OCR on the GPUs: a CUDA build of torch
    and the onnx package (it reads the model files)."""
    torch = report.torch
    return not torch["error"] and torch["cuda"] is not None and (
        report.packages.get("onnx", NOT_INSTALLED) != NOT_INSTALLED)  # fmt: skip


def _runtime_problems(report: DoctorReport) -> list[Problem]:
    """What stops the runtimes from using the GPUs that are present."""
    problems = []
    ort, torch, packages = report.onnxruntime, report.torch, report.packages
    if NOT_INSTALLED not in (packages["onnxruntime"], packages["onnxruntime-gpu"]):
        what = "both onnxruntime and onnxruntime-gpu are installed; the last installed one wins"
        problems.append(Problem(what, ORT_FIX))
    if ort["error"]:
        problems.append(Problem(f"onnxruntime fails to import: {ort['error']}", ORT_FIX))
    elif "CUDAExecutionProvider" not in ort["providers"] and not _torch_backend(report):
        what = (
            f"GPUs are present but onnxruntime ({ort['version']}) has no CUDAExecutionProvider "
            f"(providers: {', '.join(ort['providers']) or 'none'}) and the torch backend cannot "
            "run (it needs a CUDA build of torch and the onnx package); layout and OCR would "
            "use the CPU"
        )
        problems.append(Problem(what, f"{ORT_FIX}; or {TORCH_BACKEND_FIX}"))
    if torch["error"]:
        problems.append(Problem(f"torch fails to import: {torch['error']}", TORCH_FIX))
    elif torch["version"] != NOT_INSTALLED and torch["cuda"] is None:
        what = f"GPUs are present but torch {torch['version']} is a CPU-only build"
        problems.append(Problem(what, TORCH_FIX))
    if len({g.name for g in report.gpus}) > 1 and report.discovery["cuda_device_order"] is None:
        what = (
            "GPUs of different models are present and CUDA_DEVICE_ORDER is unset, so CUDA "
            "numbers the fastest first and cuda:N may not be nvidia-smi's GPU N"
        )
        problems.append(Problem(what, "export CUDA_DEVICE_ORDER=PCI_BUS_ID"))
    return problems


def _hidden_by_cvd(report: DoctorReport) -> bool:
    """True when GPUs exist but CUDA_VISIBLE_DEVICES hides every one of them."""
    return not report.gpus and (report.discovery["reason"] or "").startswith("CUDA_VISIBLE_DEVICES")


def _devices_fix(report: DoctorReport) -> str:
    if report.devices.resolved:  # it parsed, so an allocation probe failed
        return "leave the GPUs whose allocation failed out of --devices (see below)"
    if report.gpus:
        visible = ", ".join(f"cuda:{g.index}" for g in report.gpus)
        return f"ask only for visible devices ({visible}), or 'cuda' for all of them"
    if _hidden_by_cvd(report):
        return "use --devices cpu, or unset CUDA_VISIBLE_DEVICES (or list the GPUs in it)"
    return "use --devices cpu, or install the NVIDIA driver so that nvidia-smi lists the GPUs"


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"

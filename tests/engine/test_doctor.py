"""``docfleet doctor``: the report as data, its problems and fixes, and the command's exit codes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from typing import Any

import pytest

from docfleet.cli.doctor import render
from docfleet.engine.discovery import GpuDiscovery, GpuInfo, ProbeResult, discover_gpus
from docfleet.engine.doctor import (
    OPENCV_FIX,
    OPENCV_LIBS_FIX,
    DoctorReport,
    GpuCheck,
    build_report,
    check_devices,
    diagnose,
    gpu_backend,
)
from docfleet.engine.machine import OPENCV_WHEELS, cpu_facts, opencv_facts, package_versions

KEYS = {
    "docfleet",
    "python",
    "packages",
    "onnxruntime",
    "torch",
    "opencv",
    "cpu",
    "discovery",
    "gpus",
    "devices",
    "problems",
}
FOUND = discover_gpus()
no_gpu = pytest.mark.skipif(bool(FOUND.gpus), reason="this machine has a GPU")
OK = ProbeResult(True, "cuda-driver", "", 0.1)
FAILED = ProbeResult(False, "cuda-driver", "cuCtxCreate failed: CUDA error 999 unknown error", 0.1)


@pytest.fixture
def doctor(cli: Any) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``doctor(ARGS, VAR=value)``: ``docfleet doctor ARGS`` with extra environment variables."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return cli("doctor", *args, env={**os.environ, "COLUMNS": "200", **env})

    return run


def gpu(index: int, probe: ProbeResult = OK, name: str = "NVIDIA H100 80GB HBM3") -> GpuCheck:
    return GpuCheck(index, str(index), name, f"GPU-{index:04d}", 80 * 2**30, 79 * 2**30, probe)


# The README's install: rapid-layout and rapidocr 3.9 both require opencv-python, the one wheel.
ONE_OPENCV = {"rapid-layout": "opencv-python", "rapidocr": "opencv-python"}


def with_opencv(report: DoctorReport, *wheels: str, **opencv: object) -> DoctorReport:
    """The same report with these OpenCV wheels installed and these cv2 facts."""
    installed = {w: ("5.1.0.95" if w in wheels else "not installed") for w in OPENCV_WHEELS}
    facts = {"version": "5.1.0", "error": "", "required_by": ONE_OPENCV, **opencv}
    return replace(report, packages={**report.packages, **installed}, opencv=facts)


@pytest.fixture(scope="module")
def here() -> DoctorReport:
    """This machine's report, built in this process, with the README's one OpenCV wheel (the
    OpenCV problems have their own tests)."""
    return with_opencv(build_report(), "opencv-python")


def test_one_opencv_wheel_that_every_package_requires_is_no_problem(here: DoctorReport) -> None:
    assert diagnose(here) == []


def test_two_opencv_wheels_are_a_problem_naming_who_requires_which(here: DoctorReport) -> None:
    required_by = {"rapid-layout": "opencv-python", "rapidocr": "opencv-python-headless"}
    report = with_opencv(here, *OPENCV_WHEELS, required_by=required_by)
    (problem,) = diagnose(report)
    who = "rapid-layout requires opencv-python; rapidocr requires opencv-python-headless"
    assert "both write the one cv2 folder" in problem.what and who in problem.what
    assert problem.fix == OPENCV_FIX
    assert problem.fix.startswith("pip uninstall -y opencv-python opencv-python-headless && ")
    assert 'pip install "rapidocr>=3.9,<3.10" opencv-python' in problem.fix


def test_headless_alone_where_rapid_layout_requires_opencv_python_fails_pip_check(
    here: DoctorReport,
) -> None:
    required_by = {"rapid-layout": "opencv-python", "rapidocr": "opencv-python-headless"}
    (problem,) = diagnose(with_opencv(here, "opencv-python-headless", required_by=required_by))
    assert problem.what == (
        "rapid-layout requires opencv-python, which is not installed "
        "(opencv-python-headless is): pip check fails"
    )
    assert problem.fix == OPENCV_FIX


def test_a_cv2_missing_its_system_libraries_names_them(here: DoctorReport) -> None:
    error = "ImportError: libGL.so.1: cannot open shared object file: No such file or directory"
    report = with_opencv(here, "opencv-python", version="unknown", error=error)
    (problem,) = diagnose(report)
    assert problem.what == f"cv2 fails to import: {error}"
    assert problem.fix == OPENCV_LIBS_FIX and "apt-get install -y libgl1" in problem.fix


def test_opencv_facts_read_the_installed_requirements() -> None:
    facts = opencv_facts()
    for package, wheel in facts["required_by"].items():
        requires = metadata.requires(package) or []
        assert any(r.lower().replace("_", "-").startswith(wheel) for r in requires)
    if importlib.util.find_spec("rapid_layout") is not None:
        assert facts["required_by"]["rapid-layout"] == "opencv-python"
    assert facts["error"] == "" and facts["version"] != "not installed"


def with_gpus(report: DoctorReport, *gpus: GpuCheck, **changes: object) -> DoctorReport:
    """The same report as if these GPUs had been found."""
    discovery = {**report.discovery, "method": "nvml", "reason": ""}
    return replace(report, gpus=list(gpus), discovery=discovery, **changes)


def test_json_report_has_the_documented_keys(doctor: Any) -> None:
    done = doctor("--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == KEYS
    assert report["devices"] == {"requested": None, "resolved": [], "usable": None, "error": ""}
    assert report["python"]["executable"] == sys.executable
    assert report["packages"]["docfleet"] == report["docfleet"]
    assert report["discovery"]["method"] == FOUND.method
    assert len(report["gpus"]) == len(FOUND.gpus)
    assert all({"what", "fix"} == set(p) for p in report["problems"])


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, marks=no_gpu, id="this-machine"),
        pytest.param({"CUDA_VISIBLE_DEVICES": ""}, id="hidden"),
    ],
)
def test_devices_cuda_0_without_a_visible_gpu_exits_1(env: dict[str, str], doctor: Any) -> None:
    done = doctor("--json", "--devices", "cuda:0", **env)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["devices"]["usable"] is False
    what = " ".join(p["what"] for p in report["problems"])
    fixes = " ".join(p["fix"] for p in report["problems"])
    assert "cuda:0" in what and "CUDA_VISIBLE_DEVICES" in what
    assert "--devices cpu" in fixes


def test_devices_cpu_exits_0(doctor: Any) -> None:
    done = doctor("--json", "--devices", "cpu")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["devices"]["resolved"] == ["cpu"]


@no_gpu
def test_readable_report_says_no_gpu(doctor: Any) -> None:
    done = doctor()
    assert done.returncode == 0, done.stderr
    assert "No GPU" in done.stdout
    failed = doctor("--devices", "cuda:0")
    assert failed.returncode == 1
    assert "NOT usable" in failed.stdout and "--devices cpu" in failed.stdout


def test_check_devices_uses_the_probes() -> None:
    infos = tuple(GpuInfo(i, str(i), "A100", f"GPU-{i}", 1, 1) for i in range(2))
    found = GpuDiscovery(infos, "nvml", "", None)
    checks = [gpu(0), gpu(1, FAILED)]
    assert check_devices(None, found, checks).usable is None
    assert check_devices("cuda:0", found, checks).usable is True
    both = check_devices("cuda", found, checks)
    assert (both.usable, both.resolved, both.error) == (
        False,
        ["cuda:0", "cuda:1"],
        "the allocation probe failed on cuda:1",
    )
    missing = check_devices("cuda:0,cuda:5", found, checks)
    assert missing.usable is False and "visible devices: cuda:0, cuda:1" in missing.error


def test_cpu_only_runtimes_with_gpus_name_the_fix(here: DoctorReport) -> None:
    ort = {"version": "1.20.1", "providers": ["CPUExecutionProvider"], "error": ""}
    torch = {"version": "2.5.1+cpu", "cuda": None, "error": ""}
    problems = diagnose(with_gpus(here, gpu(0), onnxruntime=ort, torch=torch))
    text = {p.what: p.fix for p in problems}
    ort_fix = next(fix for what, fix in text.items() if "CUDAExecutionProvider" in what)
    assert 'pip install "docfleet[gpu]"' in ort_fix and "uninstall -y onnxruntime" in ort_fix
    assert 'pip install "docfleet[torch]"' in ort_fix  # the other way: the torch backend
    torch_fix = next(fix for what, fix in text.items() if "CPU-only build" in what)
    assert "download.pytorch.org/whl/cu" in torch_fix


def test_a_cuda_torch_with_onnx_runs_layout_and_ocr_without_onnxruntime_gpu(here) -> None:
    ort = {"version": "1.20.1", "providers": ["CPUExecutionProvider"], "error": ""}
    torch = {"version": "2.5.1", "cuda": "12.4", "error": ""}
    packages = {**here.packages, "onnx": "1.17.0"}
    report = with_gpus(here, gpu(0), onnxruntime=ort, torch=torch, packages=packages)
    assert diagnose(report) == []
    assert gpu_backend(report).startswith("torch")
    assert gpu_backend(replace(report, torch={**torch, "cuda": None})).startswith("none")
    without_onnx = {**packages, "onnx": "not installed"}
    whats = [p.what for p in diagnose(replace(report, packages=without_onnx))]
    assert any("the torch backend cannot run" in w for w in whats)


def test_gpu_runtimes_give_no_problem(here: DoctorReport) -> None:
    ort = {"version": "1.20.1", "providers": ["CUDAExecutionProvider"], "error": ""}
    torch = {"version": "2.5.1", "cuda": "12.4", "error": ""}
    packages = {**here.packages, "onnxruntime": "not installed", "onnxruntime-gpu": "1.20.1"}
    report = with_gpus(here, gpu(0), gpu(1), onnxruntime=ort, torch=torch, packages=packages)
    assert diagnose(report) == []


def test_gpu_problems_are_named(here: DoctorReport) -> None:
    packages = {**here.packages, "onnxruntime": "1.20.1", "onnxruntime-gpu": "1.20.1"}
    mixed = gpu(1, FAILED, name="NVIDIA GeForce RTX 4090")
    whats = " | ".join(p.what for p in diagnose(with_gpus(here, gpu(0), mixed, packages=packages)))
    assert "allocating 1 MiB on cuda:1 (NVIDIA GeForce RTX 4090" in whats
    assert "CUDA error 999" in whats
    assert "both onnxruntime and onnxruntime-gpu" in whats
    assert "CUDA_DEVICE_ORDER" in whats


def test_cuda_visible_devices_hiding_every_gpu_is_a_problem(here: DoctorReport) -> None:
    reason = "CUDA_VISIBLE_DEVICES='' hides all 2 GPUs: its first entry '' is empty"
    discovery = {**here.discovery, "method": "nvml", "reason": reason}
    problems = diagnose(replace(here, gpus=[], discovery=discovery))
    assert [p.what for p in problems] == [reason]
    assert problems[0].fix.startswith("unset CUDA_VISIBLE_DEVICES")


def test_facts_are_real(here: DoctorReport) -> None:
    versions = package_versions(["pytest", "surely-not-installed-pkg"])
    assert versions == {"pytest": pytest.__version__, "surely-not-installed-pkg": "not installed"}
    cpu = cpu_facts()
    assert 1 <= cpu["usable_cores"] <= cpu["logical_cores"]
    assert cpu["memory_total_bytes"] >= cpu["memory_available_bytes"] > 0
    json.dumps(here.as_dict())  # JSON-ready as it stands
    assert here.exit_code == 0


def test_render_shows_gpus_and_problems(here: DoctorReport, capsys) -> None:
    report = with_gpus(here, gpu(0), gpu(1, FAILED))
    render(replace(report, problems=diagnose(report)))
    out = capsys.readouterr().out
    assert "cuda:1" in out and "FAILED" in out and "Problems" in out

"""``docfleet doctor``: the report as data, its problems and fixes, and the command's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from docfleet.cli.doctor import render
from docfleet.engine.discovery import GpuDiscovery, GpuInfo, ProbeResult, discover_gpus
from docfleet.engine.doctor import (
    DoctorReport,
    GpuCheck,
    build_report,
    check_devices,
    cpu_facts,
    diagnose,
    gpu_backend,
    package_versions,
)

KEYS = {
    "docfleet",
    "python",
    "packages",
    "onnxruntime",
    "torch",
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


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m docfleet doctor ARGS`` with extra environment variables."""
    cmd = [sys.executable, "-m", "docfleet", "doctor", *args]
    full_env = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=300)


def gpu(index: int, probe: ProbeResult = OK, name: str = "NVIDIA H100 80GB HBM3") -> GpuCheck:
    return GpuCheck(index, str(index), name, f"GPU-{index:04d}", 80 * 2**30, 79 * 2**30, probe)


@pytest.fixture(scope="module")
def here() -> DoctorReport:
    """This machine's report, built in this process, with one copy of OpenCV (the problem of
    two copies has its own test)."""
    report = build_report()
    return replace(report, packages={**report.packages, "opencv-python": "not installed"})


def test_two_copies_of_opencv_are_a_problem_with_its_fix(here: DoctorReport) -> None:
    packages = {**here.packages, "opencv-python": "5.0.0", "opencv-python-headless": "5.0.0"}
    (problem,) = diagnose(replace(here, packages=packages))
    assert "two copies of cv2" in problem.what
    assert problem.fix.startswith("pip uninstall -y opencv-python opencv-python-headless")


def with_gpus(report: DoctorReport, *gpus: GpuCheck, **changes: object) -> DoctorReport:
    """The same report as if these GPUs had been found."""
    discovery = {**report.discovery, "method": "nvml", "reason": ""}
    return replace(report, gpus=list(gpus), discovery=discovery, **changes)


def test_json_report_has_the_documented_keys() -> None:
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
def test_devices_cuda_0_without_a_visible_gpu_exits_1(env: dict[str, str]) -> None:
    done = doctor("--json", "--devices", "cuda:0", **env)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["devices"]["usable"] is False
    what = " ".join(p["what"] for p in report["problems"])
    fixes = " ".join(p["fix"] for p in report["problems"])
    assert "cuda:0" in what and "CUDA_VISIBLE_DEVICES" in what
    assert "--devices cpu" in fixes


def test_devices_cpu_exits_0() -> None:
    done = doctor("--json", "--devices", "cpu")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["devices"]["resolved"] == ["cpu"]


@no_gpu
def test_readable_report_says_no_gpu() -> None:
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

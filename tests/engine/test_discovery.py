"""GPU discovery: CUDA_VISIBLE_DEVICES as CUDA applies it, nvidia-smi parsing, no CUDA init."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from docfleet.engine.discovery import (
    GpuInfo,
    discover_gpus,
    filter_visible,
    parse_nvidia_smi_csv,
    probe_gpu,
    split_visible_devices,
)

UUIDS = (
    "GPU-5e1c2f3a-0b6d-4c1e-9a8f-1d2e3f4a5b6c",
    "GPU-5e1c9d40-77aa-41b2-8c3d-aabbccddeeff",
    "GPU-a07f3b21-6c5d-4e9f-8b7a-123456789abc",
)
GIB = 2**30
FOUND = discover_gpus()
no_gpu = pytest.mark.skipif(bool(FOUND.gpus), reason="this machine has a GPU")
needs_gpu = pytest.mark.skipif(not FOUND.gpus, reason=f"no GPU: {FOUND.reason}")


def physical() -> list[GpuInfo]:
    """Three GPUs as NVML would list them, by physical index."""
    name = "NVIDIA A100-SXM4-80GB"
    return [GpuInfo(i, str(i), name, uuid, 80 * GIB, 79 * GIB) for i, uuid in enumerate(UUIDS)]


def picked(value: str | None) -> list[tuple[int, str, str]]:
    """(logical index, visible_id, uuid) of each GPU that ``value`` leaves visible."""
    return [(g.index, g.visible_id, g.uuid) for g in filter_visible(physical(), value)[0]]


def test_unset_shows_every_gpu_in_order() -> None:
    visible, note = filter_visible(physical(), None)
    assert [(g.index, g.visible_id) for g in visible] == [(0, "0"), (1, "1"), (2, "2")]
    assert note == ""


def test_indices_pick_and_reorder_with_physical_visible_ids() -> None:
    assert picked("2,0") == [(0, "2", UUIDS[2]), (1, "0", UUIDS[0])]
    assert picked(" 1 , 2") == [(0, "1", UUIDS[1]), (1, "2", UUIDS[2])]


def test_full_uuid_and_unique_prefix_give_the_full_uuid_as_visible_id() -> None:
    assert picked(f"{UUIDS[2]},GPU-5e1c9") == [(0, UUIDS[2], UUIDS[2]), (1, UUIDS[1], UUIDS[1])]
    assert picked(f"1,{UUIDS[0]}") == [(0, "1", UUIDS[1]), (1, UUIDS[0], UUIDS[0])]


def test_invalid_entry_ends_the_list_like_cuda() -> None:
    visible, note = filter_visible(physical(), "1,7,0")
    assert [g.visible_id for g in visible] == ["1"]
    assert "'7'" in note and "every entry after it" in note
    assert picked("0,GPU-ffff,2") == [(0, "0", UUIDS[0])]
    assert picked("2,GPU-5e1c,0") == [(0, "2", UUIDS[2])]  # ambiguous prefix stops too


@pytest.mark.parametrize("value", ["", "-1", "none", "NoDevFiles", "GPU-5e1c", "9", ",0"])
def test_values_that_hide_every_gpu(value: str) -> None:
    visible, note = filter_visible(physical(), value)
    assert visible == ()
    assert note.startswith(f"CUDA_VISIBLE_DEVICES={value!r} hides all 3 GPUs")


def test_a_gpu_named_twice_shows_none() -> None:
    for value in ("0,0", f"0,1,{UUIDS[0]}", "GPU-a07f,2"):
        visible, note = filter_visible(physical(), value)
        assert visible == () and "twice" in note, value


def test_index_entry_is_read_like_strtoul() -> None:
    assert picked("1gpu") == [(0, "1", UUIDS[1])]


def test_mig_uuid_is_passed_through() -> None:
    mig = "MIG-4b3c1e2d-aaaa-5bbb-8ccc-0123456789ab"
    visible, note = filter_visible(physical(), f"{mig},1")
    assert [(g.index, g.visible_id, g.uuid) for g in visible] == [
        (0, mig, mig),
        (1, "1", UUIDS[1]),
    ]
    assert note == ""


def test_split_keeps_empty_entries() -> None:
    assert split_visible_devices("0,,1") == ["0", "", "1"]
    assert split_visible_devices("") == [""]


NVIDIA_SMI_OUTPUT = """\
0, NVIDIA H100 80GB HBM3, GPU-5e1c2f3a-0b6d-4c1e-9a8f-1d2e3f4a5b6c, 81559, 81007
1, NVIDIA H100 80GB HBM3, GPU-a07f3b21-6c5d-4e9f-8b7a-123456789abc, 81559, 1024

"""


def test_parse_nvidia_smi_csv() -> None:
    gpus = parse_nvidia_smi_csv(NVIDIA_SMI_OUTPUT)
    assert gpus == [
        GpuInfo(0, "0", "NVIDIA H100 80GB HBM3", UUIDS[0], 81559 * 2**20, 81007 * 2**20),
        GpuInfo(1, "1", "NVIDIA H100 80GB HBM3", UUIDS[2], 81559 * 2**20, 1024 * 2**20),
    ]


def test_parse_nvidia_smi_csv_odd_rows() -> None:
    text = "1, Tesla T4, GPU-bb, [N/A], [N/A]\n0, Quadro RTX 8000, Rev 2, GPU-aa, 48601, 48000\n"
    first, second = parse_nvidia_smi_csv(text)
    assert (first.index, first.name, first.uuid) == (0, "Quadro RTX 8000, Rev 2", "GPU-aa")
    assert (second.total_bytes, second.free_bytes) == (0, 0)
    with pytest.raises(ValueError, match="unexpected nvidia-smi output"):
        parse_nvidia_smi_csv("No devices were found\n")


@no_gpu
def test_no_driver_here_gives_no_gpus_and_a_reason() -> None:
    found = discover_gpus({"CUDA_VISIBLE_DEVICES": "0"})
    assert found.gpus == ()
    assert found.method == "none"
    assert "NVML" in found.reason and "nvidia-smi" in found.reason
    assert found.cuda_visible_devices == "0"
    assert discover_gpus({}).cuda_visible_devices is None


def test_discovery_does_not_import_cuda_libraries() -> None:
    code = textwrap.dedent(
        """
        import sys
        import docfleet, docfleet.engine.devices, docfleet.engine.doctor, docfleet.cli.main
        from docfleet.engine.discovery import discover_gpus
        found = discover_gpus()
        heavy = sorted(m for m in ("torch", "onnxruntime", "cupy", "ray") if m in sys.modules)
        print(found.method, heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout


def fake_nvidia_smi(tmp_path: Path, body: str) -> dict[str, str]:
    """An ``nvidia-smi`` script on PATH (none exists here); returns the PATH to use."""
    exe = tmp_path / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return {"PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.skipif(FOUND.method == "nvml" or sys.platform == "win32", reason="NVML answers first")
def test_nvidia_smi_fallback_is_used_and_filtered(tmp_path, monkeypatch) -> None:
    env = fake_nvidia_smi(tmp_path, f"cat <<'EOF'\n{NVIDIA_SMI_OUTPUT}EOF")
    monkeypatch.setenv("PATH", env["PATH"])
    found = discover_gpus({"CUDA_VISIBLE_DEVICES": "1"})
    assert found.method == "nvidia-smi"
    assert [(g.index, g.visible_id, g.uuid) for g in found.gpus] == [(0, "1", UUIDS[2])]
    assert found.reason == ""


@pytest.mark.skipif(FOUND.method == "nvml" or sys.platform == "win32", reason="NVML answers first")
def test_failing_nvidia_smi_is_reported(tmp_path, monkeypatch) -> None:
    said = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, f'echo "{said}"; exit 9')["PATH"])
    found = discover_gpus({})
    assert (found.gpus, found.method) == ((), "none")
    assert said in found.reason


@no_gpu
def test_probe_fails_cleanly_without_a_gpu() -> None:
    result = probe_gpu("0")
    assert not result.ok
    assert "libcuda" in result.error


@needs_gpu
def test_probe_allocates_on_cuda_0() -> None:
    result = probe_gpu(FOUND.gpus[0].visible_id)
    assert result.ok, result.error
    assert result.backend in ("cuda-driver", "torch")

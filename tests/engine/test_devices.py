"""Device specs: parsing, validation against what is visible, and CPU shares per worker."""

from __future__ import annotations

import pytest

from docfleet.engine.devices import Device, DeviceError, cpu_share, parse_devices
from docfleet.engine.discovery import GpuDiscovery, GpuInfo
from docfleet.engine.executors.slots import plan_slots


def fake_gpus(count: int, visible: str | None = None) -> GpuDiscovery:
    """A discovery result describing ``count`` GPUs: planner input, as the planner receives it."""
    gpus = tuple(
        GpuInfo(i, str(i), "Test GPU", f"GPU-{i:08d}", 80 * 2**30, 79 * 2**30) for i in range(count)
    )
    return GpuDiscovery(gpus=gpus, method="nvml", reason="", cuda_visible_devices=visible)


NONE = fake_gpus(0)


def names(devices):
    return [str(d) for d in devices]


def test_auto_is_every_gpu_else_cpu():
    assert names(parse_devices("auto", discovery=fake_gpus(2))) == ["cuda:0", "cuda:1"]
    assert names(parse_devices("auto", discovery=NONE)) == ["cpu"]
    assert names(parse_devices(None, discovery=NONE)) == ["cpu"]


def test_lists_bare_indices_and_repeats_for_replicas():
    gpus = fake_gpus(3)
    assert names(parse_devices("cuda:0,cuda:2", discovery=gpus)) == ["cuda:0", "cuda:2"]
    assert names(parse_devices("cuda:0, cuda:0", discovery=gpus)) == ["cuda:0", "cuda:0"]
    assert names(parse_devices(["1", "cpu"], discovery=gpus)) == ["cuda:1", "cpu"]
    assert names(parse_devices("cuda", discovery=gpus)) == ["cuda:0", "cuda:1", "cuda:2"]
    assert names(parse_devices("CPU")) == ["cpu"]


def test_missing_gpu_error_names_visible_devices_and_the_variable():
    with pytest.raises(DeviceError) as err:
        parse_devices("cuda:3", discovery=fake_gpus(2, visible="0,1"))
    assert str(err.value) == (
        "cuda:3 is not available; visible devices: cuda:0, cuda:1 (CUDA_VISIBLE_DEVICES=0,1)"
    )
    with pytest.raises(DeviceError, match=r"no GPU is visible \(CUDA_VISIBLE_DEVICES unset"):
        parse_devices("cuda:0", discovery=NONE)
    with pytest.raises(DeviceError, match="use cpu"):
        parse_devices("cuda", discovery=NONE)


def test_num_gpus_counts_from_the_first_visible_gpu():
    gpus = fake_gpus(4)
    assert names(parse_devices(num_gpus=2, discovery=gpus)) == ["cuda:0", "cuda:1"]
    assert len(parse_devices(num_gpus=0, discovery=gpus)) == 4
    assert names(parse_devices(num_gpus=0, discovery=NONE)) == ["cpu"]
    with pytest.raises(DeviceError, match="5 GPUs were asked for but only 4"):
        parse_devices(num_gpus=5, discovery=gpus)
    with pytest.raises(DeviceError, match="not both"):
        parse_devices("cuda:1", num_gpus=1, discovery=gpus)


def test_malformed_names_are_rejected_with_the_accepted_forms():
    for bad in ["gpu0", "cuda:x", "tpu", ","]:
        with pytest.raises(DeviceError):
            parse_devices(bad, discovery=fake_gpus(1))
    with pytest.raises(DeviceError, match="cuda:N"):
        Device.parse("gpu")


def test_slot_identity_ignores_thread_budget_and_replica():
    a = Device("cuda", 0).with_slot(threads=4, replica=1)
    assert a == Device("cuda", 0) and str(a) == "cuda:0" and a.replica == 1


def test_slots_pin_each_gpu_worker_to_its_own_gpu_and_share_cores():
    slots = plan_slots(
        parse_devices("cuda:1,cuda:1,cpu", discovery=fake_gpus(2)),
        discovery=fake_gpus(2),
        cores=6,
    )
    assert [s.device.replica for s in slots] == [0, 1, 0]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["GPU-00000001"] * 2 + [""]
    assert [str(s.child_device) for s in slots] == ["cuda:0", "cuda:0", "cpu"]
    assert {s.env["OMP_NUM_THREADS"] for s in slots} == {"2"}
    assert all(s.device.threads == 2 for s in slots)


def test_cpu_share_never_drops_below_one_thread():
    assert cpu_share(2, 16) == 8
    assert cpu_share(3, 2) == 1
    assert len(plan_slots([Device("cpu")], replicas=3, cores=2)) == 3

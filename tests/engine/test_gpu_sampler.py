"""GPU usage sampling: the arithmetic with a scripted reader; absent without NVML or GPUs."""

from __future__ import annotations

import time

from docfleet.engine.gpu_sampler import GpuSampler


def test_usage_is_mean_and_peak_of_the_samples() -> None:
    readings = iter([(20.0, 1_000, 8_000), (60.0, 3_000, 8_000), (40.0, 2_000, 8_000)])
    sampler = GpuSampler({"cuda:0": ("GPU-a", "Test GPU")}, interval=3600,
                         reader=lambda uuid: next(readings))  # fmt: skip
    sampler.start()  # one sample at once
    sampler._sample()
    sampler._sample()
    (usage,) = sampler.stop()
    assert usage["device"] == "cuda:0" and usage["name"] == "Test GPU"
    assert usage["samples"] == 3
    assert abs(usage["utilisation_mean"] - 0.4) < 1e-9 and usage["utilisation_max"] == 0.6
    assert usage["memory_used_max_bytes"] == 3_000 and usage["memory_total_bytes"] == 8_000


def test_sampling_runs_on_its_own_and_survives_a_failing_read() -> None:
    calls = {"GPU-a": 0, "GPU-b": 0}

    def reader(uuid: str) -> tuple[float, int, int]:
        calls[uuid] += 1
        if uuid == "GPU-b":
            raise RuntimeError("GPU is lost")
        return 50.0, 10, 100

    sampler = GpuSampler({"cuda:0": ("GPU-a", "A"), "cuda:1": ("GPU-b", "B")}, interval=0.01,
                         reader=reader)  # fmt: skip
    sampler.start()
    time.sleep(0.2)
    a, b = sampler.stop()
    assert a["samples"] > 3 and calls["GPU-b"] > 3
    assert b["samples"] == 0  # its reads failed; the run goes on
    after = calls["GPU-a"]
    time.sleep(0.05)
    assert calls["GPU-a"] == after  # stopped


def test_no_sampler_for_cpu_runs_or_without_nvml() -> None:
    assert GpuSampler.for_devices(["cpu", "cpu"]) is None
    from docfleet.engine.discovery import discover_gpus

    if discover_gpus().method != "nvml":
        assert GpuSampler.for_devices(["cuda:0"]) is None


def test_a_cpu_run_records_no_gpus() -> None:
    from docfleet import Fleet
    from docfleet.stages.toy import MatMulStage

    with Fleet(devices="cpu", workers="thread", replicas=1).map(MatMulStage(), range(4)) as s:
        assert len(list(s)) == 4
        assert s.stats.gpus == []
        assert s.stats.to_dict()["gpus"] == []

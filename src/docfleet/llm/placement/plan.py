"""The placement decision for one model: a device map per replica, and why, in sentences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docfleet.runtimes.footprint import Footprint


class PlanError(ValueError):
    """The strategy asked for cannot hold the model in the memory given."""


@dataclass(frozen=True)
class Plan:
    """The placement decision for one model, with the reasons in plain sentences.

    ``replicas`` holds one device map per replica (module name -> device name; ``""`` is the
    whole model): ``replicate`` has one single-GPU map per replica, ``balanced`` and
    ``offload`` one map spanning several devices, ``cpu``/``mps`` one whole-model map.
    ``device_bytes`` is the weight bytes each device holds over all replicas, ``budgets`` the
    bytes each device was allowed for weights after its margin.
    """

    strategy: str
    dtype: str
    replicas: tuple[dict[str, str], ...]
    device_bytes: dict[str, int]
    budgets: dict[str, int]
    explanation: tuple[str, ...]
    needs_offload_folder: bool
    footprint: Footprint

    @property
    def devices(self) -> tuple[str, ...]:
        """Each replica's execution device: where its first block (and its inputs) lives."""
        return tuple(execution_device(m) for m in self.replicas)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "dtype": self.dtype,
            "replicas": [dict(m) for m in self.replicas],
            "devices": list(self.devices),
            "device_bytes": dict(self.device_bytes),
            "budgets": dict(self.budgets),
            "explanation": list(self.explanation),
            "needs_offload_folder": self.needs_offload_folder,
            "footprint": self.footprint.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Rebuild a plan from :meth:`to_dict` (as stage options carry it to workers)."""
        return cls(
            strategy=data["strategy"],
            dtype=data["dtype"],
            replicas=tuple(dict(m) for m in data["replicas"]),
            device_bytes=dict(data["device_bytes"]),
            budgets=dict(data["budgets"]),
            explanation=tuple(data["explanation"]),
            needs_offload_folder=bool(data["needs_offload_folder"]),
            footprint=Footprint.from_dict(data["footprint"]),
        )


def execution_device(device_map: Mapping[str, str]) -> str:
    """Where a replica runs: its first device that is not ``disk``.

    >>> execution_device({"a": "disk", "b": "cuda:1", "c": "cpu"})
    'cuda:1'
    """
    return next((d for d in device_map.values() if d != "disk"), "cpu")

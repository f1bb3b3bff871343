"""docfleet: run document-AI models over large batches on every device a machine has.

Heavy libraries (torch, onnxruntime, ray, fastapi) are imported only where they are used, and
the names below load on first use, so ``import docfleet`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Fleet": "docfleet.fleet",
    "ResultStream": "docfleet.fleet",
    "map_documents": "docfleet.ingest",
    "Result": "docfleet.results",
    "ErrorInfo": "docfleet.results",
    "Stage": "docfleet.stage",
    "StageOptions": "docfleet.stage",
    "Device": "docfleet.devices",
    "DeviceError": "docfleet.devices",
    "parse_devices": "docfleet.devices",
    "EngineOptions": "docfleet.options",
    "EngineError": "docfleet.executors.local",
    "RunStats": "docfleet.stats",
}

__all__ = [  # noqa: RUF022 - grouped as _EXPORTS
    "__version__",
    "Fleet",
    "ResultStream",
    "map_documents",
    "Result",
    "ErrorInfo",
    "Stage",
    "StageOptions",
    "Device",
    "DeviceError",
    "parse_devices",
    "EngineOptions",
    "EngineError",
    "RunStats",
]

if TYPE_CHECKING:
    from docfleet.devices import Device, DeviceError, parse_devices
    from docfleet.executors.local import EngineError
    from docfleet.fleet import Fleet, ResultStream
    from docfleet.ingest import map_documents
    from docfleet.options import EngineOptions
    from docfleet.results import ErrorInfo, Result
    from docfleet.stage import Stage, StageOptions
    from docfleet.stats import RunStats


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'docfleet' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

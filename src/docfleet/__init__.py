"""docfleet: run document-AI models over large batches on every device a machine has.

Heavy libraries (torch, onnxruntime, ray, fastapi) are imported only where they are used, and
the names below load on first use, so ``import docfleet`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Fleet": "docfleet.engine.fleet",
    "ResultStream": "docfleet.engine.fleet",
    "map_documents": "docfleet.jobs.run.job",
    "Result": "docfleet.engine.results",
    "ErrorInfo": "docfleet.engine.results",
    "Stage": "docfleet.engine.stage",
    "StageOptions": "docfleet.engine.stage",
    "Device": "docfleet.engine.devices",
    "DeviceError": "docfleet.engine.devices",
    "parse_devices": "docfleet.engine.devices",
    "EngineOptions": "docfleet.settings.engine",
    "EngineError": "docfleet.engine.executors.local",
    "RunStats": "docfleet.engine.stats",
    "iter_pdf_page_tensors": "docfleet.documents.pdf",
    "load_pdf_page_tensors": "docfleet.documents.pdf",
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
    "iter_pdf_page_tensors",
    "load_pdf_page_tensors",
]

if TYPE_CHECKING:
    from docfleet.documents.pdf import iter_pdf_page_tensors, load_pdf_page_tensors
    from docfleet.engine.devices import Device, DeviceError, parse_devices
    from docfleet.engine.executors.local import EngineError
    from docfleet.engine.fleet import Fleet, ResultStream
    from docfleet.engine.results import ErrorInfo, Result
    from docfleet.engine.stage import Stage, StageOptions
    from docfleet.engine.stats import RunStats
    from docfleet.jobs.run.job import map_documents
    from docfleet.settings.engine import EngineOptions


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'docfleet' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

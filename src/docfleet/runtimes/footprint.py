"""What a checkpoint weighs, read from its safetensors headers and config.json, no weights loaded.

Also the size and dtype vocabulary the planner and ``docfleet plan`` share.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GiB = 2**30
DTYPES = ("auto", "float32", "float16", "bfloat16")

_CONVERTIBLE = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}
_ITEM_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)


class ModelFilesError(FileNotFoundError):
    """The model folder lacks ``config.json`` or safetensors weights."""


@dataclass(frozen=True)
class Footprint:
    """A checkpoint's size and shape, read from its safetensors headers and ``config.json``.

    ``by_dtype`` maps each stored dtype (``F32``, ``BF16``, ``I8`` ...) to ``(parameters,
    bytes)``; ``config_dtype`` is the dtype ``config.json`` declares, if any.
    """

    path: str
    architecture: str | None
    model_type: str | None
    layers: int | None
    hidden_size: int | None
    config_dtype: str | None
    files: tuple[str, ...]
    by_dtype: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def parameters(self) -> int:
        return sum(n for n, _ in self.by_dtype.values())

    @property
    def bytes(self) -> int:
        """Bytes of the weights as stored."""
        return sum(b for _, b in self.by_dtype.values())

    @property
    def checkpoint_dtype(self) -> str:
        """The declared dtype, else the float dtype holding most parameters (else float32)."""
        if self.config_dtype in _ITEM_BYTES:
            return self.config_dtype
        floats = [(n, _CONVERTIBLE[d]) for d, (n, _) in self.by_dtype.items() if d in _CONVERTIBLE]
        return max(floats)[1] if floats else "float32"

    def bytes_at(self, dtype: str) -> int:
        """Bytes of the weights loaded as ``dtype``; integer and 8-bit tensors keep their size.

        >>> fp = Footprint("m", None, None, None, None, None, (), {"BF16": (10, 20), "I8": (4, 4)})
        >>> fp.bytes_at("float32")
        44
        """
        size = _ITEM_BYTES[resolve_dtype_name(dtype)]
        return sum(
            n * size if d in _CONVERTIBLE else b for d, (n, b) in self.by_dtype.items()
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "architecture": self.architecture,
            "model_type": self.model_type,
            "layers": self.layers,
            "hidden_size": self.hidden_size,
            "config_dtype": self.config_dtype,
            "files": list(self.files),
            "parameters": self.parameters,
            "bytes": self.bytes,
            "by_dtype": {d: {"parameters": n, "bytes": b} for d, (n, b) in self.by_dtype.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Footprint:
        by_dtype = {d: (v["parameters"], v["bytes"]) for d, v in data["by_dtype"].items()}
        keys = ("path", "architecture", "model_type", "layers", "hidden_size", "config_dtype")
        return cls(**{k: data[k] for k in keys}, files=tuple(data["files"]), by_dtype=by_dtype)


def model_footprint(path: str | Path) -> Footprint:
    """Parameters and bytes per dtype of the checkpoint in ``path``, read without loading it."""
    folder = Path(path)
    config = read_config(folder)
    files = safetensors_files(folder)
    by_dtype: dict[str, tuple[int, int]] = {}
    for file in files:
        for dtype, numel, nbytes in _header_tensors(file):
            n, b = by_dtype.get(dtype, (0, 0))
            by_dtype[dtype] = (n + numel, b + nbytes)
    return described(folder, config, tuple(f.name for f in files), by_dtype)


def described(
    folder: Path, config: dict[str, Any], files: tuple[str, ...], by_dtype: dict[str, Any]
) -> Footprint:
    """The footprint of the model in ``folder`` whose ``config.json`` is ``config``: its
    architecture, layers, width and declared dtype, with the given files and sizes."""
    text = config.get("text_config") or config.get("llm_config") or {}
    archs = config.get("architectures") or [None]
    return Footprint(
        path=str(folder),
        architecture=archs[0],
        model_type=config.get("model_type"),
        layers=config.get("num_hidden_layers", text.get("num_hidden_layers")),
        hidden_size=config.get("hidden_size", text.get("hidden_size")),
        config_dtype=declared_dtype(config),
        files=files,
        by_dtype=by_dtype,
    )


def declared_dtype(config: dict[str, Any]) -> Any:
    """The dtype ``config.json`` declares (its text model's, for a multimodal one), or None."""
    text = config.get("text_config") or config.get("llm_config") or {}
    return config.get("dtype") or config.get("torch_dtype") or text.get("dtype")


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` of a model folder, or :class:`ModelFilesError` saying what is missing."""
    config = folder / "config.json"
    if not folder.is_dir():
        raise ModelFilesError(f"model folder {folder} does not exist")
    if not config.is_file():
        raise ModelFilesError(
            f"{folder} has no config.json; give the folder a Hugging Face model was saved to "
            "(save_pretrained), with config.json and *.safetensors"
        )
    try:
        return json.loads(config.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{config} is not valid JSON: {exc}") from exc


def safetensors_files(folder: Path) -> list[Path]:
    """The weight files: those ``model.safetensors.index.json`` names, else ``*.safetensors``."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        files = [folder / name for name in sorted(set(weight_map.values()))]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ModelFilesError(f"{index} names shards that are missing: {', '.join(missing)}")
    else:
        files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelFilesError(
            f"{folder} has no *.safetensors weights; convert the checkpoint with "
            "model.save_pretrained(folder) (safetensors is the default)"
        )
    return files


def _header_tensors(file: Path) -> Iterator[tuple[str, int, int]]:
    """(dtype, elements, bytes) of each tensor in one safetensors file, from its header."""
    with open(file, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{file} is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > 100 * 2**20:
            raise ValueError(f"{file} has an implausible safetensors header length {length}")
        try:
            header = json.loads(fh.read(length))
        except ValueError as exc:
            raise ValueError(f"{file} has an unreadable safetensors header: {exc}") from exc
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        yield info["dtype"], math.prod(info["shape"]), end - start


def resolve_dtype_name(dtype: str) -> str:
    """``float32``/``float16``/``bfloat16`` from a name such as ``bf16`` or ``torch.float16``."""
    name = str(dtype).removeprefix("torch.").lower()
    name = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}.get(
        name, name
    )
    if name not in _ITEM_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return name


def parse_size(text: str | int) -> int:
    """Bytes from ``24GiB``, ``24G`` (binary), ``24GB`` (decimal), ``512MiB`` or a byte count.

    >>> parse_size("24GiB") == 24 * 2**30, parse_size("1.5GB"), parse_size("4096")
    (True, 1500000000, 4096)
    """
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"cannot read {text!r} as a size; write e.g. 24GiB, 512MiB or 80GB")
    number, unit, binary, byte = match.groups()
    power = " kmgt".index(unit.lower()) if unit else 0
    base = 1000 if (byte and not binary and unit) else 1024
    return int(float(number) * base**power)


def format_size(n: float) -> str:
    """``1.5 GiB``, ``374.2 KiB``: a byte count for people.

    >>> format_size(3 * 2**30), format_size(1536)
    ('3.0 GiB', '1.5 KiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"

"""PDF pages as PyTorch tensors placed on devices, for code that feeds its own models."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from docfleet.documents.pdf.render import (
    DEFAULT_DPI,
    DEFAULT_MAX_PIXELS,
    pdf_page_count,
    render_pdf_page,
)

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

TORCH_MISSING = (
    "page tensors need PyTorch, which is not installed here; install the torch build for your "
    'machine (see https://pytorch.org), or run: pip install "docfleet[torch]"'
)


def round_robin(devices: Sequence[T], count: int) -> list[T]:
    """The device of each of ``count`` pages: page i goes to ``devices[i % len(devices)]``.

    >>> round_robin(["cuda:0", "cuda:1"], 5)
    ['cuda:0', 'cuda:1', 'cuda:0', 'cuda:1', 'cuda:0']
    """
    if not devices:
        raise ValueError("no devices to place pages on")
    return [devices[i % len(devices)] for i in range(count)]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(TORCH_MISSING) from exc
    return torch


def _device_names(device: str | Sequence[str] | Any) -> list[str]:
    """Validated device names (``cpu``, ``cuda:N``, ``mps``); a name listed twice stays twice."""
    from docfleet.engine.devices import parse_devices

    if not isinstance(device, (str, Sequence)):
        device = [str(device)]  # a torch.device or a docfleet Device
    return [str(d) for d in parse_devices(device)]


def iter_pdf_page_tensors(
    path: str | Path,
    device: str | Sequence[str] = "cpu",
    dpi: float = DEFAULT_DPI,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    password: str | None = None,
) -> Iterator[torch.Tensor]:
    """Yield each page of a PDF as a ``uint8`` RGB tensor of shape (3, H, W) on ``device``.

    ``device`` is a name (``"cpu"``, ``"cuda:1"``, ``"cuda"`` for every GPU) or a list of them;
    with several, pages go round-robin (page 1 on the first, page 2 on the second, ...). One page
    is in memory at a time. A page larger than ``max_pixels`` at ``dpi`` is rendered at the
    resolution that fits. Errors (missing torch, a bad device, an unreadable PDF) are raised at
    the call, before any page is rendered.

    >>> import pathlib, tempfile
    >>> torch = __import__("pytest").importorskip("torch")  # the example needs PyTorch
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "two-pages.pdf"
    >>> _ = path.write_bytes(
    ...     b"%PDF-1.4\\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\\n"
    ...     b"2 0 obj<</Type/Pages/Kids[3 0 R 3 0 R]/Count 2>>endobj\\n"
    ...     b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 144]>>endobj\\n"
    ...     b"trailer<</Root 1 0 R>>\\n%%EOF\\n"
    ... )
    >>> [(tuple(t.shape), t.dtype, str(t.device)) for t in iter_pdf_page_tensors(path, dpi=72)]
    [((3, 144, 72), torch.uint8, 'cpu'), ((3, 144, 72), torch.uint8, 'cpu')]
    """
    torch = _import_torch()
    targets = _device_names(device)
    pages = pdf_page_count(path, password)

    def generate() -> Iterator[torch.Tensor]:
        for index, target in enumerate(round_robin(targets, pages)):
            image, _, _ = render_pdf_page(
                path, index + 1, dpi=dpi, max_pixels=max_pixels, password=password
            )
            chw = torch.from_numpy(image).permute(2, 0, 1)
            yield chw.to(target).contiguous()

    return generate()


def load_pdf_page_tensors(
    path: str | Path,
    device: str | Sequence[str] = "cpu",
    dpi: float = DEFAULT_DPI,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    password: str | None = None,
) -> list[torch.Tensor]:
    """Every page of a PDF as ``uint8`` (3, H, W) tensors, placed as ``iter_pdf_page_tensors``."""
    return list(iter_pdf_page_tensors(path, device, dpi, max_pixels=max_pixels, password=password))

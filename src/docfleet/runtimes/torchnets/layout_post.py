"""The PP layout model's outputs as boxes: rapid_layout's ``PPPostProcess``, with the decoding done
in torch for a whole batch on the device and the per-class NMS in NumPy on the few candidates.

The head predicts, for every cell of four feature maps (strides 8 to 64), class scores and the
distance from the cell centre to each box side as a distribution over 8 bins. Per page and
level the 1,000 cells with the highest scores are kept; per class, boxes above the score
threshold go through hard NMS (the 200 best candidates, at most 100 kept).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

STRIDES = (8, 16, 32, 64)
LEVEL_TOP_K = 1000  # cells kept per level, by their best class score
NMS_CANDIDATES = 200  # per class, the best-scored boxes that NMS looks at
NMS_KEEP = 100  # per class, the most boxes NMS keeps


def decode(
    outputs: Sequence[torch.Tensor], input_hw: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate boxes ``(B, K, 4)`` (x0, y0, x1, y1 in input pixels) and their class scores
    ``(B, K, C)``, from the model's outputs (the score maps first, then the distance maps)."""
    import torch

    half = len(outputs) // 2
    boxes, scores = [], []
    for stride, score, dist in zip(STRIDES, outputs[:half], outputs[half:], strict=True):
        score, dist = score.float(), dist.float()
        batch, cells, classes = score.shape
        bins = dist.shape[-1] // 4
        rows, cols = math.ceil(input_hw[0] / stride), math.ceil(input_hw[1] / stride)
        if rows * cols != cells:
            raise ValueError(f"stride {stride}: {cells} cells, expected {rows} x {cols}")
        ys, xs = torch.meshgrid(
            torch.arange(rows, device=score.device, dtype=torch.float32),
            torch.arange(cols, device=score.device, dtype=torch.float32),
            indexing="ij",
        )
        cx, cy = (xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride
        centre = torch.stack([cx, cy, cx, cy], dim=-1)
        weights = torch.arange(bins, device=score.device, dtype=torch.float32)
        distance = dist.reshape(batch, cells, 4, bins).softmax(-1) @ weights * stride
        sign = torch.tensor([-1.0, -1.0, 1.0, 1.0], device=score.device)
        box = centre + distance * sign
        top = score.amax(-1).topk(min(LEVEL_TOP_K, cells), dim=1).indices.unsqueeze(-1)
        boxes.append(box.gather(1, top.expand(-1, -1, 4)))
        scores.append(score.gather(1, top.expand(-1, -1, classes)))
    return torch.cat(boxes, dim=1), torch.cat(scores, dim=1)


def select(
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    conf_thresh: float,
    iou_thresh: float,
    input_hw: tuple[int, int],
    page_hw: tuple[int, int],
) -> tuple[list[list[float]], list[float], list[int]]:
    """One page's kept boxes (in page pixels), scores and class indices, class by class as
    rapid_layout lists them.

    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    >>> scores = np.array([[0.9], [0.8], [0.7]], np.float32)
    >>> kept, s, c = select(boxes, scores, conf_thresh=0.5, iou_thresh=0.5,
    ...                     input_hw=(100, 100), page_hw=(200, 200))
    >>> kept, [round(v, 2) for v in s], c
    ([[0.0, 0.0, 20.0, 20.0], [40.0, 40.0, 60.0, 60.0]], [0.9, 0.7], [0, 0])
    """
    found_boxes, found_scores, found_classes = [], [], []
    for c in range(scores.shape[1]):
        mask = scores[:, c] > conf_thresh
        if not mask.any():
            continue
        keep = hard_nms(boxes[mask], scores[mask, c], iou_thresh)
        found_boxes.append(boxes[mask][keep].astype(np.float64))
        found_scores.append(scores[mask, c][keep])
        found_classes += [c] * len(keep)
    if not found_boxes:
        return [], [], []
    kept = np.concatenate(found_boxes)
    in_h, in_w = input_hw
    kept[:, [0, 2]] = kept[:, [0, 2]].clip(0, in_w)
    kept[:, [1, 3]] = kept[:, [1, 3]].clip(0, in_h)
    scale = np.array([in_w / page_hw[1], in_h / page_hw[0]], dtype=np.float32)
    kept /= np.concatenate([scale, scale])
    return kept.tolist(), [float(s) for s in np.concatenate(found_scores)], found_classes


def hard_nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float) -> list[int]:
    """Indices of the boxes greedy NMS keeps, best first: of the :data:`NMS_CANDIDATES`
    best-scored, each box that overlaps a kept one by more than ``iou_thresh`` is dropped."""
    order = np.argsort(scores)[-NMS_CANDIDATES:]
    picked: list[int] = []
    while len(order):
        current = int(order[-1])
        picked.append(current)
        if len(picked) == NMS_KEEP or len(order) == 1:
            break
        order = order[:-1]
        order = order[iou(boxes[order], boxes[current]) <= iou_thresh]
    return picked


def iou(boxes: np.ndarray, box: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Intersection over union of each of ``boxes`` (N, 4) with ``box`` (4,)."""
    lt = np.maximum(boxes[:, :2], box[:2])
    rb = np.minimum(boxes[:, 2:], box[2:])
    overlap = np.clip(rb - lt, 0.0, None).prod(axis=1)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None).prod(axis=1)
    own = np.clip(box[2:] - box[:2], 0.0, None).prod()
    return overlap / (area + own - overlap + eps)  # type: ignore[no-any-return]

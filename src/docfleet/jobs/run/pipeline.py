"""The document pipelines: which stages run, fused in each worker, for a RunConfig."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docfleet.engine.devices import available_cores
from docfleet.engine.registry import StageGroup
from docfleet.engine.stage import Stage
from docfleet.jobs.run.config import DocumentOptions, RunConfig
from docfleet.settings.engine import EngineOptions

#: Memory one CPU replica of the layout and OCR models needs, with headroom for large pages.
CPU_REPLICA_BYTES = 1 << 30
#: GPU memory one replica may take: its OCR sessions' CUDA arenas are capped at 3/4 of it
#: (``docfleet.runtimes.ocr.models.OCR_GPU_ARENA_BYTES``), the layout session takes the rest.
GPU_REPLICA_BYTES = 2 << 30
#: Replicas per GPU with ``--replicas auto``: one replica keeps a GPU 17-34% busy (its pages
#: wait on the CPU for rendering and box post-processing), and published document pipelines
#: gained 2.4x from 4 instances per GPU.
MAX_AUTO_GPU_REPLICAS = 4
GPU_PAGES_PER_BATCH = 8  # pages per batch on GPUs with --batch-size auto


def build_stages(config: DocumentOptions) -> list[Stage] | list[StageGroup]:
    """The stages of ``config.pipeline`` with their options: the config's page settings, then
    its ``stages`` options; fused in each worker, or as groups on their own devices."""
    from docfleet.jobs.run.pipeline_spec import document_stages

    require_models()
    if isinstance(config.pipeline, str):
        return [_stage(name, config) for name in document_stages(config.pipeline)]
    return [
        StageGroup(
            [_stage(name, config) for name in group.stages],
            devices=group.devices,
            replicas=group.replicas,
            batch_size=group.batch_size,
            workers=group.workers,
        )
        for group in config.pipeline
    ]


def _stage(name: str, config: DocumentOptions) -> Stage:
    from docfleet.engine.registry import stage_class

    settings: dict[str, dict[str, Any]] = {
        "render": {"dpi": config.dpi, "max_pixels": config.max_pixels, "ocr": config.ocr,
                   "password": config.password},
        "ocr": {"model": config.ocr_model, "det_max_side": config.ocr_det_side,
                "rec_batch": config.ocr_rec_batch, "backend": config.backend},
        "layout": {"backend": config.backend},
    }  # fmt: skip
    return stage_class(name)(**{**settings.get(name, {}), **config.stages.get(name, {})})


def engine_options(
    config: RunConfig, *, cpu_only: bool, gpu_free_bytes: Sequence[int] = ()
) -> EngineOptions:
    """Engine settings for a document run: ``--replicas auto`` is one replica per core on CPU,
    and on GPUs as many as the least free GPU holds (:func:`gpu_replicas`)."""
    replicas = config.replicas
    if replicas == "auto":
        replicas = cpu_replicas() if cpu_only else gpu_replicas(gpu_free_bytes)
    batch_size = config.batch_size
    if batch_size == "auto":  # a GPU detects pages of one size, and reads their lines, together
        batch_size = 1 if cpu_only else GPU_PAGES_PER_BATCH
    return config.engine_options(
        replicas=replicas, batch_size=batch_size, item_timeout=config.page_timeout, unit="pages"
    )


def gpu_replicas(free_bytes: Sequence[int]) -> int:
    """Replicas per GPU: ``GPU_REPLICA_BYTES`` each in the least free GPU, 1 to
    ``MAX_AUTO_GPU_REPLICAS`` (1 when the free memory is not known).

    >>> gpu_replicas([80 << 30, 80 << 30]), gpu_replicas([3 << 30]), gpu_replicas([])
    (4, 1, 1)
    """
    known = [b for b in free_bytes if b > 0]
    if not known:
        return 1
    return max(1, min(MAX_AUTO_GPU_REPLICAS, min(known) // GPU_REPLICA_BYTES))


def cpu_replicas() -> int:
    """One replica per usable core, as far as memory allows."""
    try:
        free = _available_memory()
    except OSError:
        free = None
    by_memory = max(1, free // CPU_REPLICA_BYTES) if free else available_cores()
    return max(1, min(available_cores(), by_memory))


def _available_memory() -> int | None:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def require_models() -> None:
    """Explain how to install the models' runtime when it is missing."""
    import importlib.util

    missing = [
        m for m in ("onnxruntime", "rapidocr", "rapid_layout") if not importlib.util.find_spec(m)
    ]
    if missing:
        raise ImportError(
            f"the layout and OCR models need {', '.join(missing)}: install them with "
            "pip install 'docfleet[cpu]' (or 'docfleet[gpu]' on NVIDIA GPU machines)"
        )

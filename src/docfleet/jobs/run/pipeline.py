"""The document pipelines: which stages run, fused in each worker, for a RunConfig."""

from __future__ import annotations

from docfleet.engine.registry import StageGroup
from docfleet.engine.stage import Stage
from docfleet.jobs.common.engine import AutoSizes, JobEngine
from docfleet.jobs.run.config import DocumentOptions, RunConfig

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
#: ``--replicas auto``: one replica per core on CPU, and on GPUs as many as the least free GPU
#: holds; ``--batch-size auto``: one page on CPU, and on GPUs ``GPU_PAGES_PER_BATCH`` (a GPU
#: detects pages of one size, and reads their lines, together).
PAGE_SIZES = AutoSizes(
    cpu_replica_bytes=CPU_REPLICA_BYTES, gpu_replica_bytes=GPU_REPLICA_BYTES,
    max_gpu_replicas=MAX_AUTO_GPU_REPLICAS, cpu_batch_size=1, gpu_batch_size=GPU_PAGES_PER_BATCH,
)  # fmt: skip


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

    return stage_class(name)(**config.stage_options(name))


def page_engine(config: RunConfig) -> JobEngine:
    """What a document run adds to its engine settings: it counts pages, a page may run
    ``page_timeout`` seconds, and ``auto`` sizes are :data:`PAGE_SIZES`."""
    return JobEngine(unit="pages", item_timeout=config.page_timeout, auto=PAGE_SIZES)


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

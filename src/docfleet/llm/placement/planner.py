"""Where a language model goes: replicas per GPU, one split across GPUs, CPU/disk offload, CPU.

The decision is made without loading weights. :func:`model_footprint` reads the sizes from the
safetensors headers and ``config.json`` (a folder with only ``config.json``, its weights not yet
downloaded, is counted on the meta device). A model that plainly fits each device it goes to whole
is placed from those sizes alone (no PyTorch import: ``docfleet plan`` answers in a fraction of
a second). Otherwise :func:`plan_placement` builds the model on the meta
device and lets Accelerate (``compute_module_sizes``, ``get_balanced_memory``,
``infer_auto_device_map``) place its blocks in the memory it is told each device has, so tests
and ``docfleet plan --gpu-memory`` can pretend GPUs of any size. :func:`plan_for_machine` fills
that memory in from this machine.

Device maps use device names: ``cuda:N``, ``mps``, ``cpu`` (weights in CPU memory, moved to the
execution device layer by layer) and ``disk`` (read from the checkpoint or an offload folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from docfleet.llm.placement.meta import footprint_for_plan, meta_model
from docfleet.llm.placement.meta import quiet as _quiet
from docfleet.llm.placement.plan import Plan, PlanError, execution_device
from docfleet.runtimes.footprint import Footprint, GiB, format_size, resolve_dtype_name

__all__ = ["Plan", "PlanError", "plan_for_machine", "plan_placement"]

STRATEGIES = ("auto", "replicate", "balanced", "offload", "cpu", "mps")
DEFAULT_SPLIT_MARGIN = 4 * GiB
DEFAULT_SINGLE_MARGIN = 2 * GiB
SLACK = 0.05  # what buffers (rotary tables, masks) may add to the checkpoint's bytes, at most


def plan_placement(
    path: str | Path,
    *,
    gpus: Sequence[tuple[str, int]] = (),
    cpu_bytes: int,
    dtype: str = "auto",
    split_margin: int = DEFAULT_SPLIT_MARGIN,
    single_margin: int = DEFAULT_SINGLE_MARGIN,
    mps: bool = False,
    strategy: str = "auto",
) -> Plan:
    """Decide where the model in ``path`` goes, given each GPU's free bytes and the CPU's.

    - fits each GPU with ``single_margin`` to spare: ``replicate``, one replica per GPU (a GPU
      listed twice holds two replicas);
    - fits all GPUs together with ``split_margin`` left on each: ``balanced``, one replica
      split across them;
    - else ``offload``: the GPUs take what fits, then CPU memory, then disk;
    - no GPU: ``cpu`` (``mps`` when ``mps``), float32 unless ``dtype`` says otherwise, with
      disk offload (``offload``) when CPU memory minus ``single_margin`` is too small.

    ``strategy`` forces one of these; :class:`PlanError` says why when it cannot hold the model.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    footprint = footprint_for_plan(path)
    target = _target_dtype(dtype, footprint, accelerated=bool(gpus) or mps)
    planner = _Planner(Path(path), footprint, target, split_margin, single_margin)
    wants = strategy
    if strategy == "auto":
        wants = "gpu" if gpus else ("mps" if mps else "cpu")
    if wants in ("gpu", "replicate", "balanced", "offload") and gpus:
        return planner.on_gpus(gpus, cpu_bytes, strategy)
    if wants in ("replicate", "balanced"):
        raise PlanError(f"strategy {strategy} needs at least one GPU, and none was given")
    return planner.on_host("mps" if wants == "mps" or (mps and wants == "offload") else "cpu",
                           cpu_bytes, strategy)  # fmt: skip


def plan_for_machine(
    path: str | Path,
    devices: Any = "auto",
    *,
    num_gpus: int | None = None,
    dtype: str = "auto",
    strategy: str = "auto",
    gpu_memory: Sequence[int] | None = None,
    cpu_memory: int | None = None,
    split_margin: int = DEFAULT_SPLIT_MARGIN,
    single_margin: int = DEFAULT_SINGLE_MARGIN,
    discovery: Any = None,
) -> Plan:
    """:func:`plan_placement` for this machine's devices (``devices`` as ``--devices`` takes).

    GPU free memory comes from NVML / ``nvidia-smi`` (no CUDA initialised here), CPU memory
    from ``/proc/meminfo`` and the cgroup limit. ``gpu_memory`` pretends GPUs ``cuda:0..n-1`` of
    those free sizes instead, and ``cpu_memory`` overrides the CPU's, to plan for another machine.
    """
    from docfleet.engine.devices import parse_devices
    from docfleet.engine.discovery import GpuDiscovery, GpuInfo, discover_gpus

    if gpu_memory is not None:
        fake = tuple(
            GpuInfo(i, str(i), "planned GPU", f"GPU-plan-{i}", b, b)
            for i, b in enumerate(gpu_memory)
        )
        discovery = GpuDiscovery(fake, "planned", "", None)
    elif discovery is None:
        discovery = discover_gpus()
    chosen = parse_devices(devices, num_gpus=num_gpus, discovery=discovery)
    free = {g.index: g.free_bytes or g.total_bytes for g in discovery.gpus}
    gpus = [(str(d), free.get(d.index or 0, 0)) for d in chosen if d.kind == "cuda"]
    if cpu_memory is None:
        cpu_memory = _available_host_memory()
    return plan_placement(
        path, gpus=gpus, cpu_bytes=cpu_memory, dtype=dtype, split_margin=split_margin,
        single_margin=single_margin, mps=any(d.kind == "mps" for d in chosen), strategy=strategy,
    )  # fmt: skip


def _available_host_memory() -> int:
    from docfleet.engine.machine import cpu_facts

    facts = cpu_facts()
    known = [b for b in (facts["memory_available_bytes"], facts["memory_limit_bytes"]) if b]
    return min(known) if known else 0


def _count(n: int) -> str:
    """``354.5 K``, ``8.03 B``: a parameter count for people."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(n)


def _target_dtype(dtype: str, footprint: Footprint, *, accelerated: bool) -> str:
    if dtype != "auto":
        return resolve_dtype_name(dtype)
    return footprint.checkpoint_dtype if accelerated else "float32"


class _Planner:
    """One model's sizes and the margins; builds each kind of plan with its explanation.

    Sizes start as the checkpoint's bytes in the target dtype. Where that estimate leaves no
    doubt (a whole copy fits with :data:`SLACK` to spare) the plan is made from it; anything
    closer, and every split, measures the model built on the meta device (buffers and tied
    weights included), block by block.
    """

    def __init__(
        self, path: Path, footprint: Footprint, dtype: str, split_margin: int, single_margin: int
    ):
        self.path = path
        self.footprint = footprint
        self.dtype = dtype
        self.split_margin = split_margin
        self.single_margin = single_margin
        self.total = footprint.bytes_at(dtype)
        self.model: Any = None
        self.no_split: list[str] = []
        self.sizes: dict[str, int] = {}
        self.said: list[str] = []

    def measure(self) -> None:
        """Build the meta model and take its exact sizes (imports PyTorch and transformers)."""
        from accelerate.utils import compute_module_sizes

        if self.model is not None:
            return
        self.model = meta_model(self.path, self.dtype)
        self.no_split = sorted(getattr(self.model, "_no_split_modules", None) or [])
        with _quiet():
            self.sizes = compute_module_sizes(self.model)  # the meta model is in ``dtype``
        self.total = self.sizes[""]

    def plainly_fits(self, copies: int, room: int) -> bool:
        """``copies`` whole copies fit ``room`` even if the estimate is :data:`SLACK` short."""
        return self.model is None and copies * self.total * (1 + SLACK) <= room

    def _summary(self) -> str:
        fp = self.footprint
        arch = fp.architecture or fp.model_type or "model"
        shape = f", {fp.layers} layers" if fp.layers else ""
        counted = "" if fp.files else " (counted from config.json: the folder holds no weights)"
        return (
            f"{fp.path} ({arch}{shape}) has {_count(fp.parameters)} parameters{counted}; "
            f"in {self.dtype} its weights take {format_size(self.total)}."
        )

    def on_gpus(self, gpus: Sequence[tuple[str, int]], cpu_bytes: int, forced: str) -> Plan:
        free: dict[str, int] = {}
        copies: dict[str, int] = {}
        for name, nbytes in gpus:
            free.setdefault(name, nbytes)
            copies[name] = copies.get(name, 0) + 1
        plain = [g for g in free if self.plainly_fits(copies[g], free[g] - self.single_margin)]
        if not (forced in ("auto", "replicate") and plain and len(plain) == len(free)):
            self.measure()  # a split, or a GPU too close to call, needs the exact sizes
        fits = [g for g in free if copies[g] * self.total + self.single_margin <= free[g]]
        if forced in ("auto", "replicate") and (fits or forced == "replicate"):
            return self._replicate(free, copies, fits)
        names = list(free)
        budgets = {g: max(0, free[g] - self.split_margin) for g in names}
        if not fits:
            self.said.append(
                f"It does not fit {'any GPU' if len(names) > 1 else names[0]} whole with the "
                f"{format_size(self.single_margin)} single-GPU margin "
                f"({', '.join(f'{g}: {format_size(free[g])} free' for g in names)})."
            )
        else:
            self.said.append(f"Strategy {forced} was asked for.")
        if forced in ("auto", "balanced"):
            device_map = self._balanced(names, budgets)
            if device_map is not None:
                return self._plan("balanced", [device_map], budgets, [
                    f"Split across {len(names)} GPUs with {format_size(self.split_margin)} "
                    "left free on each, in balanced shares: one replica spanning "
                    f"{', '.join(dict.fromkeys(device_map.values()))}; its blocks run one after "
                    "another, so items go through that replica in batches."
                ])  # fmt: skip
            if forced == "balanced":
                raise PlanError(
                    f"the model ({format_size(self.total)} in {self.dtype}) does not fit the GPUs "
                    f"with {format_size(self.split_margin)} left on each; use --strategy offload, "
                    "a smaller --dtype, or smaller --split-margin"
                )
            self.said.append(
                f"All GPUs together, keeping {format_size(self.split_margin)} free on each, "
                f"hold {format_size(sum(budgets.values()))}: not enough."
            )
        budgets["cpu"] = max(0, cpu_bytes - self.single_margin)
        device_map = self._infer(names, budgets)
        return self._plan("offload", [device_map], budgets, self._offload_sentences(device_map))

    def on_host(self, device: str, cpu_bytes: int, forced: str) -> Plan:
        budget = max(0, cpu_bytes - self.single_margin)
        where = "CPU memory" if device == "cpu" else "unified memory (MPS)"
        if forced == "offload" or not self.plainly_fits(1, budget):
            self.measure()
        if self.total <= budget and forced != "offload":
            kind = "Apple GPU (MPS)" if device == "mps" else "CPU"
            why = (
                "no CUDA GPU was given" if forced == "auto" else f"strategy {forced} was asked for"
            )
            return self._plan(device, [{"": device}], {device: budget}, [
                f"Whole model on the {kind} in {self.dtype} ({why}): {format_size(self.total)} "
                f"of the {format_size(budget)} of {where} left after the "
                f"{format_size(self.single_margin)} margin."
            ])  # fmt: skip
        if forced in ("cpu", "mps"):
            raise PlanError(
                f"the model ({format_size(self.total)} in {self.dtype}) does not fit the "
                f"{format_size(budget)} of {where} left after the "
                f"{format_size(self.single_margin)} margin; use --strategy offload (the rest is "
                "read from disk) or a smaller --dtype"
            )
        budgets = {device: budget}
        device_map = self._infer([], budgets)
        return self._plan("offload", [device_map], budgets, self._offload_sentences(device_map))

    def _replicate(self, free: dict[str, int], copies: dict[str, int], fits: list[str]) -> Plan:
        use = fits or list(free)
        budgets = {g: max(0, free[g] - self.single_margin) for g in use}
        maps = [{"": g} for g in use for _ in range(copies[g])]
        sentences = [
            f"Each GPU used keeps a whole copy with {format_size(self.single_margin)} to spare "
            f"({', '.join(f'{g}: {format_size(free[g])} free' for g in use)}): "
            f"{len(maps)} replica{'s' if len(maps) > 1 else ''}, items shared between them "
            "(data parallelism)."
        ]
        left_out = [g for g in free if g not in use]
        if left_out:
            sentences.append(
                f"{', '.join(left_out)} cannot hold a whole copy with the margin and is left "
                "idle; a replica there would have to offload, and be the slowest by far."
            )
        if not fits:
            sentences.append(
                "Replication was asked for although no GPU has the margin to spare: expect "
                "out-of-memory errors."
            )
        return self._plan("replicate", maps, budgets, sentences)

    def _balanced(self, names: list[str], budgets: dict[str, int]) -> dict[str, str] | None:
        from accelerate.utils import get_balanced_memory

        if len(names) < 2:
            return None
        memory = {i: budgets[g] for i, g in enumerate(names)}
        with _quiet():
            balanced = get_balanced_memory(
                self.model, memory, no_split_module_classes=self.no_split
            )
        for limits in (balanced, memory):  # balanced shares first, else fill in order
            device_map = self._infer(names, {names[i]: b for i, b in limits.items()})
            if not {"cpu", "disk"} & set(device_map.values()):
                return device_map
        return None

    def _infer(self, names: list[str], budgets: dict[str, int]) -> dict[str, str]:
        """Accelerate's device map for these budgets, with GPU positions turned into names."""
        from accelerate import infer_auto_device_map

        memory: dict[int | str, int] = {i: budgets[g] for i, g in enumerate(names)}
        memory.update({k: v for k, v in budgets.items() if k in ("mps", "cpu")})
        with _quiet():
            raw = infer_auto_device_map(
                self.model, max_memory=memory, no_split_module_classes=self.no_split
            )
        return {m: names[d] if isinstance(d, int) else str(d) for m, d in raw.items()}

    def _offload_sentences(self, device_map: dict[str, str]) -> list[str]:
        held = self._bytes([device_map])
        parts = ", ".join(f"{format_size(b)} on {d}" for d, b in held.items())
        sentences = [
            f"Offload: one replica with {parts}. Blocks outside the execution device "
            f"({execution_device(device_map)}) are moved there layer by layer for every "
            "forward pass, so generation is much slower than with the whole model in place."
        ]
        if "disk" in held:
            sentences.append(
                "Blocks on disk are read from the checkpoint's safetensors files (or a temporary "
                "offload folder, removed at exit) on every pass: expect it to be slow."
            )
        return sentences

    def _bytes(self, maps: Sequence[Mapping[str, str]]) -> dict[str, int]:
        held: dict[str, int] = {}
        for device_map in maps:
            for module, device in device_map.items():
                size = self.sizes[module] if self.sizes else self.total  # whole-model maps
                held[device] = held.get(device, 0) + size
        return held

    def _plan(
        self,
        strategy: str,
        maps: list[dict[str, str]],
        budgets: dict[str, int],
        sentences: list[str],
    ) -> Plan:
        needs_folder = any("disk" in m.values() for m in maps)
        return Plan(
            strategy=strategy,
            dtype=self.dtype,
            replicas=tuple(maps),
            device_bytes=self._bytes(maps),
            budgets=budgets,
            explanation=(self._summary(), *self.said, *sentences),
            needs_offload_folder=needs_folder,
            footprint=self.footprint,
        )

"""Engine benchmark: scaling, per-item overhead and load balance, all measured in one run.

    python benchmarks/engine.py [--quick] [--json engine.json]

Figures and targets are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common.machine import print_machine
from common.report import add_output_options, write_json
from common.timing import steady_seconds

from docfleet import Device, Fleet
from docfleet.stages.toy import IdentityStage, MatMulStage, SleepStage


def steady_rate(stream: Any) -> tuple[float, float]:
    """Items/s after start-up (workers loaded) and the start-up time, for a finished stream."""
    stats = stream.stats
    return stats.items / steady_seconds(stats), stats.startup_seconds


def scaling(items: int) -> dict[str, Any]:
    """Throughput of 2 process workers vs 1 on a CPU-bound stage, one BLAS thread each."""
    stage = MatMulStage(size=512, rounds=32)
    rates = {}
    for replicas in (1, 2):
        fleet = Fleet(
            devices="cpu", replicas=replicas, cpu_threads=1, batch_size=16, progress=False
        )
        stream = fleet.map(stage, range(items))
        assert all(r.ok for r in stream)
        rates[replicas], _ = steady_rate(stream)
    return {
        "items": items,
        "one_worker_items_per_s": rates[1],
        "two_workers_items_per_s": rates[2],
        "speedup": rates[2] / rates[1],
        "target_speedup": 1.85,
    }


def overhead(items: int) -> dict[str, Any]:
    """Engine cost per item through a no-op stage, against a plain loop calling the stage."""
    stage = IdentityStage()
    stage.load(Device("cpu"))
    data = list(range(items))
    start = time.perf_counter()
    for item in data:
        stage([item])
    loop_s = time.perf_counter() - start
    out: dict[str, Any] = {
        "items": items,
        "batch_size": 256,
        "plain_loop_items_per_s": items / loop_s,
    }
    for kind in ("thread", "process"):
        fleet = Fleet(devices="cpu", workers=kind, batch_size=256, progress=False)
        stream = fleet.map(stage, data)
        count = sum(1 for r in stream if r.ok)
        assert count == items
        rate, startup = steady_rate(stream)
        out[f"{kind}_items_per_s"] = rate
        out[f"{kind}_startup_s"] = startup
        out[f"{kind}_us_per_item"] = max(0.0, (1 / rate - loop_s / items) * 1e6)
    out["target_us_per_item"] = 50.0
    return out


def balance(items: int, seconds: float) -> dict[str, Any]:
    """Makespan with one replica 3x slower than the other: pull-based vs static split vs ideal."""
    factor = 3.0
    slow, fast = seconds * factor, seconds
    ideal = items / (1 / slow + 1 / fast)

    def run_chunk(per_item: float, count: int) -> None:
        for _ in range(count):
            time.sleep(per_item)

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        half = items // 2
        list(pool.map(run_chunk, [slow, fast], [half, items - half]))
    static = time.perf_counter() - start

    stage = SleepStage(seconds=seconds, slow_replica=0, slow_factor=factor)
    fleet = Fleet(devices="cpu", replicas=2, workers="thread", batch_size=1, progress=False)
    stream = fleet.map(stage, range(items))
    assert all(r.ok for r in stream)
    engine = stream.stats.wall_seconds - stream.stats.startup_seconds
    return {
        "items": items,
        "slow_factor": factor,
        "ideal_s": ideal,
        "static_split_s": static,
        "engine_s": engine,
        "engine_vs_ideal": engine / ideal,
        "static_vs_ideal": static / ideal,
        "items_per_replica": [w.items for w in stream.stats.workers],
        "target_engine_vs_ideal": 1.10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser, markdown=False)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    figures = {
        "machine": print_machine(10),
        "scaling": scaling(int(8000 * scale)),
        "overhead": overhead(int(200_000 * scale)),
        "balance": balance(int(200 * scale), 0.01),
    }
    s, o, b = figures["scaling"], figures["overhead"], figures["balance"]
    print(f"scaling   1 worker {s['one_worker_items_per_s']:8.1f} items/s   "
          f"2 workers {s['two_workers_items_per_s']:8.1f} items/s   "
          f"speedup {s['speedup']:.2f}x (target >= 1.85x)")  # fmt: skip
    print(f"overhead  plain loop {o['plain_loop_items_per_s']:,.0f} items/s   "
          f"thread {o['thread_us_per_item']:.2f} us/item   "
          f"process {o['process_us_per_item']:.2f} us/item (target < 50 us)")  # fmt: skip
    print(f"balance   ideal {b['ideal_s']:.2f} s   engine {b['engine_s']:.2f} s "
          f"({b['engine_vs_ideal']:.2f}x ideal, target <= 1.10x)   static split "
          f"{b['static_split_s']:.2f} s ({b['static_vs_ideal']:.2f}x ideal)   "
          f"items per replica (slow, fast) {b['items_per_replica']}")  # fmt: skip
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

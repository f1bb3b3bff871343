"""docfleet serve against docfleet run: the HTTP layer's cost, small requests beside a large job.

    python benchmarks/serve.py [--quick] [--corpus DIR] [--requests N] [--copies K] [--json PATH]
                               [--markdown] [--timeout S] [--keep]

One sitting, one server at a time, the pages of benchmarks/scanned_corpus.py's corpus (8 with
--quick): ``docfleet run`` on them; ``docfleet serve`` with the same settings, the same PDFs as
one job; then one-page ``POST /v1/convert`` requests one after another, with the server idle and
beside a large job. Figures and targets are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from statistics import mean, median
from typing import Any

import requests
import scanned_corpus
from common.corpora import SCANNED_CORPUS, Key, Texts
from common.docfleet_run import docfleet_executable, run_docfleet, tail
from common.machine import print_machine
from common.report import Column, Table, add_output_options, verdict, write_json
from common.timing import add_rates, in_work_folder

PAGE_OPTIONS = ["--devices", "cpu", "--ocr", "always", "--pipeline", "ocr"]
RUN_OPTIONS = [*PAGE_OPTIONS, "--no-progress", "--no-resume"]
QUICK_PDFS = 4  # the first 8 pages
POLL_S = 0.1
LARGE_PAGES_PER_REQUEST = 8  # the large job's pages per convert request, at least
TARGETS = {"http_overhead": 0.05}  # fairness: busy p50 < idle p50 + one page of the large job
TERMINAL = ("done", "failed", "cancelled")


class Server:
    """A ``docfleet serve`` process on a free loopback port; stopped with SIGTERM."""

    def __init__(self, data: Path, log: Path, timeout: float) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [*docfleet_executable(), "serve", *PAGE_OPTIONS, "--data", str(data),
                        "--port", str(self.port), "--convert-timeout", str(timeout)]  # fmt: skip
        self.log, self.timeout = log, timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        """Start it and wait until /readyz answers 200; the seconds that took."""
        began = time.perf_counter()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=log)
        while time.perf_counter() - began < self.timeout:
            try:
                if requests.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return time.perf_counter() - began
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}): {tail(self.log)}")
            time.sleep(0.2)
        raise TimeoutError("the server did not become ready")

    def stop(self) -> int | None:
        """SIGTERM (the server drains: pages in hand finish), then its exit code."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=self.timeout)
        return None if self.proc is None else self.proc.returncode

    def post(self, route: str, pdfs: list[Path], copies: int = 1, **form: str) -> Any:
        """Upload ``pdfs`` (``copies`` times over, the copies named ``N--name``)."""
        pairs = [
            (f"{i}--{p.name}" if copies > 1 else p.name, p) for i in range(copies) for p in pdfs
        ]
        files = [("files", (name, p.read_bytes(), "application/pdf")) for name, p in pairs]
        return requests.post(f"{self.url}{route}", files=files, data=form, timeout=self.timeout)

    def job(self, job_id: str) -> dict[str, Any]:
        return requests.get(f"{self.url}/v1/jobs/{job_id}", timeout=30).json()

    def wait(self, job_id: str) -> dict[str, Any]:
        deadline = time.perf_counter() + self.timeout
        while (job := self.job(job_id))["status"] not in TERMINAL:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"job {job_id} not done after {self.timeout:.0f} s")
            time.sleep(POLL_S)
        return job

    def outcome(self, job: dict[str, Any], local: Texts, keys: list[Key]) -> dict[str, Any]:
        """How the job ended: its pages, seconds (started to ended; whole seconds), pages of
        ``keys`` missing, ok pages whose text differs from run's (a copy ``N--name`` compared
        with ``name``), and the mean seconds a page spent in the stages."""
        r = requests.get(f"{self.url}/v1/jobs/{job['id']}/pages", timeout=60)
        records = [json.loads(line) for line in r.text.splitlines() if line.strip()]
        ok = [x for x in records if x.get("status") == "ok" and x.get("page")]
        got = {_key(x) for x in ok}
        differ = [x["id"] for x in ok if (x.get("text") or "") != local.get(_key(x))]
        when = [datetime.fromisoformat(job[k].replace("Z", "+00:00"))
                for k in ("started", "ended") if job.get(k)]  # fmt: skip
        stages = [sum((x.get("seconds") or {}).values()) for x in ok]
        p = job["pages"]
        return {"status": job["status"], "job_pages": p,
                "job_s": (when[1] - when[0]).total_seconds() if len(when) == 2 else None,
                "complete": job["status"] == "done" and p["done"] == p["total"]
                and not p["failed"] and all(k in got for k in keys),
                "mismatches": len(differ), "mismatched_pages": differ[:10],
                "page_s": mean(stages) if stages else None}  # fmt: skip


def _key(record: dict[str, Any]) -> Key:
    return Path(record["document"]).name.split("--")[-1], int(record["page"])


def latencies(values: list[float]) -> dict[str, float]:
    """p50 (median), p99 (nearest rank: the max under 100 requests) and max, in seconds."""
    ordered = sorted(values)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return {"p50_s": median(ordered), "p99_s": p99, "max_s": ordered[-1], "mean_s": mean(ordered)}


def one_page_pdf(work: Path) -> Path:
    """A born-digital page of 30 lines of Helvetica, made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = work / "one-page.pdf"
    c = canvas.Canvas(str(out), pagesize=A4)
    for i in range(30):
        c.drawString(72, 770 - 20 * i, f"Line {i + 1}: the quick brown fox jumps over a dog.")
    c.save()
    return out


def converts(server: Server, pdf: Path, count: int, busy_job: str | None) -> dict[str, Any]:
    """One-page /v1/convert requests one after another: ``count`` of them, or with
    ``busy_job``, ``count`` sent while it runs (fewer if it ends first); latencies, errors."""
    times, errors = [], []
    while len(times) < count:
        if busy_job and server.job(busy_job)["status"] in TERMINAL:
            break
        began = time.perf_counter()
        r = server.post("/v1/convert", [pdf])
        times.append(time.perf_counter() - began)
        job = r.json().get("job") or {} if r.status_code == 200 else {}
        p = job.get("pages") or {}
        if job.get("status") != "done" or p.get("failed") or p.get("done") != p.get("total"):
            errors.append(f"{r.status_code}: {r.text[:200]}")
    return {"requests": len(times), "errors": errors, **(latencies(times) if times else {})}


def measure(args: argparse.Namespace, machine: dict[str, Any], work: Path) -> dict[str, Any]:
    corpus = scanned_corpus.load(Path(args.corpus), QUICK_PDFS if args.quick else None)
    pdfs, keys = corpus.pdfs, corpus.keys
    n = len(keys)
    count = args.requests or (5 if args.quick else 10)
    fig: dict[str, Any] = {"machine": machine, "corpus": corpus.figures(args.quick)}
    print("running docfleet run ...", file=sys.stderr, flush=True)
    run = run_docfleet(pdfs, work / "run", RUN_OPTIONS, timeout=args.timeout)
    local = run.pop("texts", {})
    if run["ok"]:
        add_rates(run, n)
    run["missing_pages"] = sum(k not in local for k in keys)
    fig["run"] = run
    server = Server(work / "data", work / "server.log", args.timeout)
    shown = server.command[server.command.index("serve") :]
    fig["server"] = {"command": " ".join(["docfleet", *shown])}
    try:
        print("starting docfleet serve ...", file=sys.stderr, flush=True)
        fig["server"]["ready_s"] = server.start()
        began = time.perf_counter()
        r = server.post("/v1/jobs", pdfs)
        r.raise_for_status()
        job = server.wait(r.json()["id"])
        wall = time.perf_counter() - began
        fig["serve"] = {"pages": n, "wall_s": wall, "pages_per_s": n / wall,
                        **server.outcome(job, local, keys)}  # fmt: skip
        pdf = one_page_pdf(work)
        print("convert requests, server idle ...", file=sys.stderr, flush=True)
        idle = converts(server, pdf, count, None)
        print("convert requests next to a large job ...", file=sys.stderr, flush=True)
        copies = args.copies or math.ceil(LARGE_PAGES_PER_REQUEST * count / n)
        r = server.post("/v1/jobs", pdfs, copies, ocr="always")
        r.raise_for_status()
        large_id = r.json()["id"]
        busy = converts(server, pdf, count, large_id)
        if server.job(large_id)["status"] not in TERMINAL:  # cancel the rest; keep what is done
            requests.delete(f"{server.url}/v1/jobs/{large_id}", timeout=60)
        large = server.outcome(server.wait(large_id), local, [])
        fig["fairness"] = {"requests": count, "idle": idle, "busy": busy, "copies": copies,
                           "one_page_s": large["page_s"], "large_job": large}  # fmt: skip
    except Exception as exc:  # report what was measured before the failure
        fig["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        fig["server"]["returncode"] = server.stop()
    return fig


def checks(fig: dict[str, Any]) -> None:
    """Ratios, and each target as met (True), missed (False) or not measured (None)."""
    run, serve, fair = fig["run"], fig.get("serve") or {}, fig.get("fairness") or {}
    idle, busy, big = fair.get("idle", {}), fair.get("busy", {}), fair.get("large_job", {})
    r: dict[str, float] = {}
    if serve and run.get("steady_pages_per_s"):
        r["serve_vs_run"] = serve["pages_per_s"] / run["pages_per_s"]
        r["serve_vs_run_steady"] = serve["pages_per_s"] / run["steady_pages_per_s"]
        r["http_overhead"] = 1 - r["serve_vs_run_steady"]
    if fair.get("one_page_s") and "p50_s" in idle and "p50_s" in busy:
        r["busy_vs_idle_p50"] = busy["p50_s"] / idle["p50_s"]
        r["busy_vs_idle_p99"] = busy["p99_s"] / idle["p99_s"]
        fair["target_p50_s"] = idle["p50_s"] + fair["one_page_s"]
    done = [run.get("ok") and not run.get("pages_failed") and not run["missing_pages"],
            serve.get("complete"), big and not big["job_pages"]["failed"],
            fair and not idle["errors"] and not busy["errors"]]  # fmt: skip
    fig["ratios"], fig["targets"], cost = r, TARGETS, r.get("http_overhead")
    fig["checks"] = {
        "http_overhead": None if cost is None else cost < TARGETS["http_overhead"],
        "fairness_p50": busy["p50_s"] < fair["target_p50_s"] if "target_p50_s" in fair else None,
        "fairness_under_load": busy["requests"] == fair["requests"] if fair else None,
        "all_pages_done": all(bool(d) for d in done),
        "same_texts": not serve["mismatches"] and not big["mismatches"] if serve and big else None,
    }


def done_of(job: dict[str, Any]) -> str:
    p = job["job_pages"]
    return f"done {p['done']}/{p['total']}, failed {p['failed']}"


def report(fig: dict[str, Any], markdown: bool = False) -> None:
    c, run, ok = fig["corpus"], fig["run"], fig["checks"]
    serve, fair, r = fig.get("serve"), fig.get("fairness"), fig["ratios"]
    print(f"corpus        {c['pages']} scanned pages in {c['pdfs']} PDFs, {c['root']}")
    speeds = Table(Column("", 13, "<"), Column("pages", 5), Column("wall s", 7),
                   Column("pages/s", 7), Column("steady", 7), Column("startup", 7),
                   Column("", align="<", gap=2))  # fmt: skip
    if run.get("ok"):
        speeds.add("run", str(run["pages"]), f"{run['wall_s']:.1f}", f"{run['pages_per_s']:.2f}",
                   f"{run.get('steady_pages_per_s', 0):.2f}", f"{run.get('startup_s', 0):.1f}",
                   f"failed {run['pages_failed']}, missing {run['missing_pages']}")  # fmt: skip
    else:
        speeds.note("run", f"ERROR {run.get('error')}")
    if serve:
        speeds.add("serve", str(serve["pages"]), f"{serve['wall_s']:.1f}",
                   f"{serve['pages_per_s']:.2f}", "-", f"{fig['server']['ready_s']:.1f}",
                   f"{done_of(serve)}, mismatched texts {serve['mismatches']}")  # fmt: skip
    print(speeds.render(markdown))
    if fair:
        latency = Table(Column("convert", 13, "<"), Column("reqs", 5), Column("p50 s", 7),
                        Column("p99 s", 7), Column("max s", 7),
                        Column("", align="<", gap=2))  # fmt: skip
        for name in ("idle", "busy"):
            f = fair[name]
            times = [f"{f.get(k, 0):.2f}" for k in ("p50_s", "p99_s", "max_s")]
            latency.add(name, str(f["requests"]), *times, f"errors {len(f['errors'])}")
        big = fair["large_job"]
        latency.note("large job", str(big["job_pages"]["total"]),
                     f"{fair['copies']} copies, {big['status']} after {big['job_s'] or 0:.0f} s, "
                     f"{done_of(big)}, one page {fair['one_page_s'] or 0:.2f} s, "
                     f"mismatched texts {big['mismatches']}", gap=2)  # fmt: skip
        print(latency.render(markdown))
    if "error" in fig:
        print(f"ERROR         {fig['error']}")
    if "http_overhead" in r:
        print(f"target        HTTP cost 1 - serve / run steady = {r['http_overhead']:+.1%}, "
              f"target < {TARGETS['http_overhead']:.0%}: "
              f"{verdict(ok['http_overhead'])}")  # fmt: skip
    if fair and "target_p50_s" in fair:
        print(f"target        busy p50 {fair['busy']['p50_s']:.2f} s < idle p50 + one page = "
              f"{fair['target_p50_s']:.2f} s: {verdict(ok['fairness_p50'])} (busy / idle p50 "
              f"{r['busy_vs_idle_p50']:.2f}x, p99 {r['busy_vs_idle_p99']:.2f}x)")  # fmt: skip
    print(f"check         every request under load: {verdict(ok['fairness_under_load'])}; every "
          f"page done: {verdict(ok['all_pages_done'])}; served texts = run's: "
          f"{verdict(ok['same_texts'])}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser)
    parser.add_argument("--quick", action="store_true", help="8 pages, 5 requests per phase")
    parser.add_argument("--corpus", default=str(SCANNED_CORPUS), help="scanned_corpus.py's folder")
    parser.add_argument("--requests", type=int, help="convert requests per phase (10; 5 quick)")
    parser.add_argument("--copies", type=int, help="copies of the PDFs in the large job")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command or job")
    parser.add_argument("--keep", action="store_true", help="keep the output folders")
    args = parser.parse_args()
    machine = print_machine(14)
    figures = in_work_folder(
        "docfleet-serve-bench-", args.keep, lambda w: measure(args, machine, w)
    )
    checks(figures)
    report(figures, args.markdown)
    write_json(figures, args.json)


if __name__ == "__main__":
    main()

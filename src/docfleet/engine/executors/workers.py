"""Worker handles as the dispatcher sees them: a thread, or a spawned process per replica.

Both put their messages on the dispatcher's inbox. A process worker has a pipe of its own (a
process killed mid-write cannot wedge a lock shared with the others) and a pump thread in the
parent that forwards its messages and reports its death.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from docfleet.engine.devices import Device
from docfleet.engine.executors.messages import Died, Done, Drain, LoadFailed, Outcome, Stop
from docfleet.engine.executors.worker_loop import serve
from docfleet.engine.results import ErrorInfo
from docfleet.engine.stage import Stage


class ThreadWorker:
    """A replica as a thread of this process: cheap to start, shares memory, cannot be killed."""

    def __init__(
        self,
        worker_id: int,
        stages: Sequence[Stage],
        device: Device,
        batch_limit: int,
        inbox: queue.SimpleQueue[Any],
        load_lock: threading.Lock,
    ) -> None:
        self.worker_id = worker_id
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._inbox = inbox
        self._abandoned = False
        self._drain = threading.Event()
        args = (worker_id, stages, device, batch_limit, self._receive, inbox.put, load_lock,
                self._drain.is_set)  # fmt: skip
        self._thread = threading.Thread(
            target=self._main, args=args, name=f"docfleet-{device}-r{device.replica}", daemon=True
        )
        self._thread.start()

    def _main(self, *args: Any) -> None:
        try:
            serve(*args)
        except BaseException:
            self._inbox.put(Died(self.worker_id, None))
            raise

    def _receive(self) -> Any:
        message = self._tasks.get()
        return Stop() if self._abandoned else message

    def send(self, message: Any) -> None:
        if isinstance(message, Drain):
            self._drain.set()  # seen before any batch still queued
        else:
            self._tasks.put(message)

    def kill(self) -> None:
        """Threads cannot be killed: abandon it; it stops after the batch it is stuck in."""
        self._abandoned = True
        self._tasks.put(Stop())

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


class ProcessWorker:
    """A replica as a spawned process that sees only its own device."""

    def __init__(
        self,
        worker_id: int,
        stages: Sequence[Stage],
        device: Device,
        batch_limit: int,
        inbox: queue.SimpleQueue[Any],
        env: Mapping[str, str],
        context: Any,
    ) -> None:
        self.worker_id = worker_id
        self._inbox = inbox
        payload = pickle.dumps((list(stages), device), protocol=pickle.HIGHEST_PROTOCOL)
        self._conn, child_conn = context.Pipe(duplex=True)
        self.process = context.Process(
            target=child_main,
            args=(child_conn, worker_id, dict(env), payload, batch_limit),
            name=f"docfleet-{device}-r{device.replica}",
            daemon=True,
        )
        self.process.start()
        child_conn.close()
        self._pump = threading.Thread(target=self._forward, name="docfleet-pump", daemon=True)
        self._pump.start()

    def _forward(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            self._inbox.put(message)
        self.process.join(timeout=10)
        self._inbox.put(Died(self.worker_id, self.process.exitcode))

    def send(self, message: Any) -> None:
        with contextlib.suppress(OSError, ValueError):  # gone: its pump reports the death
            self._conn.send(message)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def join(self, timeout: float) -> bool:
        self.process.join(timeout)
        if self.process.is_alive():
            return False
        self._pump.join(timeout=1)
        self._conn.close()
        return True


def child_main(
    conn: Any, worker_id: int, env: dict[str, str], payload: bytes, batch_limit: int
) -> None:
    """Entry point of a process worker; sets its environment before any stage import."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how Ctrl-C ends the run
    os.environ.update(env)
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    drain = threading.Event()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone: never outlive it
            if isinstance(message, Drain):
                drain.set()  # seen before any batch still queued
            else:
                inbox.put(message)

    threading.Thread(target=read, name="docfleet-reader", daemon=True).start()
    try:
        stages, device = pickle.loads(payload)
    except Exception as exc:
        error = ErrorInfo.from_exception(exc, "worker start")
        hint = "; define stages in an importable module so spawned workers can rebuild them"
        conn.send(LoadFailed(worker_id, ErrorInfo(error.type, error.message + hint, error.stage)))
        return
    serve(worker_id, stages, device, batch_limit, inbox.get, lambda m: _send(conn, m),
          None, drain.is_set)  # fmt: skip


def _send(conn: Any, message: Any) -> None:
    try:
        conn.send(message)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        if not isinstance(message, Done):
            raise
        conn.send(_sendable(message, exc))


def _sendable(done: Done, exc: Exception) -> Done:
    """The same Done with each output that cannot be pickled replaced by an error."""
    outcomes: list[Outcome] = []
    for outcome in done.outcomes:
        try:
            pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            outcomes.append(outcome)
        except Exception as item_exc:  # any pickling failure is the item's
            error = ErrorInfo(
                "UnpicklableOutput",
                f"the stage output cannot be sent back from a process worker ({item_exc}); "
                "return plain data, or use thread workers",
            )
            outcomes.append(Outcome(False, None, error, outcome.seconds))
    del exc
    return Done(done.worker_id, done.batch_id, outcomes, done.busy_seconds, done.batch_limit)

"""What a Ray cluster offers (nodes, CPUs, GPUs, memory): ``docfleet doctor --ray-address``.

An address is first checked with a plain TCP connection: ``ray.init`` keeps retrying an address
where nothing listens for many minutes, and a check should answer in seconds.
"""

from __future__ import annotations

import socket
from typing import Any

INSTALL_FIX = 'pip install "docfleet[ray]"'
START_FIX = (
    "start Ray on the head node with `ray start --head --port 6379` (and `ray start --address "
    "HEAD_IP:6379` on each worker node), then pass --ray-address HEAD_IP:6379"
)
AUTH_FIX = (
    "the cluster uses token authentication: export RAY_AUTH_MODE=token and the cluster's token "
    "as RAY_AUTH_TOKEN (or put it in ~/.ray/auth_token); `ray get-auth-token` on the head node "
    "prints it"
)
CLIENT_FIX = 'ray:// addresses need the Ray client: pip install "ray[client]"'
LOCAL_FIX = "see Ray's logs in /tmp/ray/session_latest/logs, or pass --ray-address to a cluster"
#: Seconds to wait for a TCP connection to the address before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0


class ClusterUnreachable(ConnectionError):
    """No Ray cluster answered at ``address``: ``reason`` says why, ``fix`` what to do."""

    def __init__(self, address: str | None, reason: str, fix: str) -> None:
        self.address, self.reason, self.fix = address, reason, fix
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        super().__init__(f"cannot connect to {where}: {reason}; {fix}")


def cluster_report(address: str | None) -> dict[str, Any]:
    """Connect to the Ray cluster at ``address`` and describe its nodes and resources.

    ``address`` is what ``ray.init`` takes: ``HOST:PORT`` (the head node's GCS port, 6379 by
    default), ``ray://HOST:PORT``, ``auto`` (a cluster started on this machine), or None (as
    ``ray.init``: the cluster ``ray start`` left here, else a new local instance just to look).
    The connection is closed again unless this process was already connected. Raises
    ``ClusterUnreachable`` (with the fix) or ``ImportError``.

    Example: ``cluster_report("10.0.0.5:6379")["total"].get("GPU", 0)``
    """
    try:
        import ray
    except ImportError:
        raise ImportError(f"Ray is not installed; {INSTALL_FIX}") from None
    if address not in (None, "auto", "local"):
        check_listening(address)
    initialised_here = not ray.is_initialized()
    if initialised_here:
        try:
            ray.init(
                address=address, ignore_reinit_error=True, include_dashboard=False,
                logging_level="ERROR", log_to_driver=False,
            )  # fmt: skip
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError or ValueError here
            raise explain_failure(address, exc) from exc
    try:
        return describe(ray, address)
    finally:
        if initialised_here:
            ray.shutdown()


def check_listening(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ``ClusterUnreachable`` unless something accepts TCP connections at ``address``."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not (sep and host and port.isdigit()):
        reason = "not an address; expected HOST:PORT, ray://HOST:PORT or auto"
        fix = "pass the head node's address, e.g. --ray-address 10.0.0.5:6379"
        raise ClusterUnreachable(address, reason, fix)
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        reason = f"nothing answers at {host}:{port} ({why})"
        raise ClusterUnreachable(address, reason, START_FIX) from None


def explain_failure(address: str | None, exc: BaseException) -> ClusterUnreachable:
    """Turn what ``ray.init`` raised into the reason and the fix a user can act on."""
    chain = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(f"{type(c).__name__}: {c}" for c in chain)
    lines = str(exc).splitlines()
    first = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    if "AuthenticationError" in text or "InvalidAuthToken" in text:
        return ClusterUnreachable(address, "the cluster refused this process's token", AUTH_FIX)
    if "ray[client]" in text:
        return ClusterUnreachable(address, first, CLIENT_FIX)
    if "Could not find any running Ray instance" in text:
        return ClusterUnreachable(address, "no Ray instance is running on this machine", START_FIX)
    return ClusterUnreachable(address, first, START_FIX if address else LOCAL_FIX)


def describe(ray: Any, address: str | None) -> dict[str, Any]:
    """The report for a connected ``ray`` module; see ``cluster_report``."""
    node = getattr(ray._private.worker, "_global_node", None)  # None for ray:// clients
    nodes = []
    for info in ray.nodes():
        resources = info.get("Resources") or {}
        nodes.append({
            "node_id": info["NodeID"],
            "address": info.get("NodeManagerAddress", ""),
            "alive": bool(info.get("Alive")),
            "head": "node:__internal_head__" in resources,
            "cpus": resources.get("CPU", 0.0),
            "gpus": resources.get("GPU", 0.0),
            "memory_bytes": int(resources.get("memory", 0)),
        })  # fmt: skip
    return {
        "address": address,
        "existing_cluster": not getattr(node, "head", False),
        "ray_version": ray.__version__,
        "nodes": nodes,
        "total": _resources(ray.cluster_resources()),
        "available": _resources(ray.available_resources()),
    }


def _resources(resources: dict[str, float]) -> dict[str, float]:
    """Ray's resource totals without the per-node markers (``node:10.0.0.5``)."""
    return {k: v for k, v in sorted(resources.items()) if not k.startswith("node:")}

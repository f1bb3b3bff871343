"""The service's listening socket, bound before anything starts, and who holds a busy port.

``docfleet serve`` binds its address first: a port in use stops it before the banner, the
workers or the job store, with a message that names the process holding the port where the
system lets this user see it (Linux: ``/proc/net/tcp*`` and ``/proc/<pid>/fd``).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

LISTEN = "0A"  # the TCP state of a listening socket in /proc/net/tcp


class CannotListen(OSError):
    """The address cannot be bound; the message says why and, for a busy port, by whom."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (``SO_REUSEADDR``, as uvicorn binds), for uvicorn to
    serve on; :class:`CannotListen` when the port is in use or the address is not this
    machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            holder = port_holder(port)
            by = f" by {holder}" if holder else " by another process"
            raise CannotListen(exc.errno, f"port {port} on {host} is in use{by}; stop it or "
                               "choose another port (--port)") from None  # fmt: skip
        raise CannotListen(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """``pid 4242 (docfleet serve --port 8000)``: the process listening on TCP ``port``, where
    ``/proc`` shows it; ``None`` elsewhere, or when it belongs to a user this one cannot see.

    >>> port_holder(8000, proc=Path("/no/such/proc")) is None
    True
    """
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    for pid_dir in proc.iterdir() if proc.is_dir() else []:
        if not pid_dir.name.isdigit():
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue  # another user's process, or one that ended
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return f"pid {pid_dir.name} ({_command(pid_dir)})"
    return None


def _listening_inodes(port: int, proc: Path) -> set[str]:
    """Socket inodes listening on ``port`` (IPv4 and IPv6), from ``/proc/net/tcp*``."""
    found = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) \
                    == port:  # fmt: skip
                found.add(fields[9])
    return found - {"0"}


def _command(pid_dir: Path) -> str:
    try:
        argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode("utf-8", "replace") for a in argv if a)
    return text[:200] or "?"

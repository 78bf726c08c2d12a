"""Running the app: a socket bound up front, uvicorn, and a clean stop on Ctrl-C or SIGTERM.

The socket is bound before uvicorn starts, so a port in use is a one-line error (uvicorn would
log and exit on its own) and ``--port 0`` can report the port the system chose. On SIGINT or
SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for
``graceful_seconds``, then runs the app's shutdown (queued predictions are refused with 503).
uvicorn then re-raises the signal, which would end the process with 143 for SIGTERM;
:class:`_Server` leaves that out, since a server asked to stop that stops is a success (exit 0).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from resnetlab.errors import ConfigError
from resnetlab.serve.config import LOCAL_HOSTS

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def host_warning(host: str, has_token: bool) -> str | None:
    """The one-line warning for a ``host`` other machines can reach (None for loopback)."""
    if host in LOCAL_HOSTS:
        return None
    fix = ("keep the token secret" if has_token else "set --token T (or RESNETLAB_TOKEN)")
    return (f"warning: --host {host} lets other machines reach the server; {fix} and put a "
            "TLS proxy in front (docs/serve.md)")


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port=0``: any free one); one-line error if busy."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another "
                          "--port (or --host)") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGINT/SIGTERM without re-raising the signal after."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only; whoever runs us there stops us
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(app: FastAPI, sock: socket.socket, *, graceful_seconds: float = 1.0,
        log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM; returns once stopped."""
    config = uvicorn.Config(app, log_level=log_level, access_log=False, server_header=False,
                            lifespan="on", timeout_graceful_shutdown=graceful_seconds)
    _Server(config).run(sockets=[sock])

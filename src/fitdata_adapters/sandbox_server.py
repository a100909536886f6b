"""Serving one of the project's fake providers (the Cardcom and Arbox sandboxes) over HTTP:
in the foreground for the CLI, or in a daemon thread for tests, benchmarks and embedded mode.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

__all__ = ["ThreadedServer", "bind_socket", "serve_forever"]

# Generous: on a loaded machine a fresh interpreter's first server can take seconds to start.
_STARTUP_TIMEOUT_SECONDS = 30.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it small keep-alive answers wait ~40 ms for
    # a delayed ACK (Nagle), which would swamp the latency a benchmark configures.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_forever(app: Any, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (what ``fitdata sandbox ...`` runs)."""
    sock = bind_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))
    server.run(sockets=[sock])


class ThreadedServer:
    """``app`` served on ``host`` (a free port by default) in a daemon thread.

    ``port`` 0 takes a free one; with ``any_port_if_taken`` a busy ``port`` is only a
    preference (an embedded sandbox asks for the port it had before a restart).
    """

    def __init__(
        self,
        app: Any,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        any_port_if_taken: bool = False,
    ) -> None:
        self._app = app
        self._name = name
        self._host = host
        self._port = port
        self._any_port_if_taken = any_port_if_taken
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError(f"the {self._name} is not running")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> Self:
        """Bind, start serving and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._name} is already running")
        try:
            sock = bind_socket(self._host, self._port)
        except OSError:
            if not (self._port and self._any_port_if_taken):
                raise
            sock = bind_socket(self._host, 0)
        self._bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            # The host process owns logging: uvicorn's own dictConfig would replace its
            # handlers (and bind them to whatever sys.stderr is now, e.g. a CLI capture).
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",
            # Calls slowed by injected latency or hangs must not hold shutdown for long.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=self._name.replace(" ", "-"),
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the {self._name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._bound_port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
